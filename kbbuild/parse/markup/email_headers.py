"""What unstructured leaves out of an e-mail: who wrote it, when, about what, and what was attached.

The subject is the message's title and sender, recipients and date are what people search mail by
("the notice ops sent in March"), so they become text. Attachments are listed, not parsed: a PDF
attached to a mail deserves kbbuild's own PDF pipeline, so the file is reported for the user to
save alongside, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass(frozen=True)
class MailHeaders:
    subject: str | None
    sender: str | None
    recipients: str | None
    date: str | None
    attachments: tuple[str, ...] = field(default=())

    def summary(self) -> str | None:
        parts = [
            f"{label}: {value}"
            for label, value in (("From", self.sender), ("To", self.recipients), ("Date", self.date))
            if value
        ]
        return " · ".join(parts) or None


def read_headers(path: Path) -> MailHeaders:
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle, headersonly=False)
    date = message.get("Date")
    try:
        date = parsedate_to_datetime(str(date)).date().isoformat() if date else None
    except (TypeError, ValueError):
        date = str(date)
    attachments = (
        tuple(part.get_filename() or part.get_content_type() for part in message.iter_attachments())
        if message.is_multipart()
        else ()
    )
    return MailHeaders(
        subject=_text(message.get("Subject")),
        sender=_text(message.get("From")),
        recipients=_text(message.get("To")),
        date=date,
        attachments=attachments,
    )


def _text(value: object) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None
