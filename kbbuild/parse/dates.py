"""The date a document gives itself, as a UTC datetime: what search filters call ``document_date``.

Parsers put it in ``Document.metadata["created"]`` as ISO 8601 text (metadata values are text);
a PDF's Info dictionary writes it in PDF's own date syntax, ``D:YYYYMMDDHHmmSSOHH'mm'``, of which
every part after the year is optional. A date that does not parse is left out rather than
guessed: a wrong date would let a before/after filter return documents the caller excluded.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from kbbuild.records import Document

_PDF_DATE = re.compile(
    r"^(?:D:)?(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?"
    r"(?:(?P<zone>[Zz+\-])(?:(?P<zone_hour>\d{2})'?(?:(?P<zone_minute>\d{2})'?)?)?)?"
)


def pdf_date(raw: str) -> datetime | None:
    """A PDF date string as a UTC datetime; local times without a zone are taken as UTC."""
    match = _PDF_DATE.match(raw.strip())
    if match is None:
        return None
    part = {key: int(value) for key, value in match.groupdict().items() if value and value.isdigit()}
    try:
        when = datetime(
            part["year"],
            part.get("month", 1),
            part.get("day", 1),
            part.get("hour", 0),
            part.get("minute", 0),
            part.get("second", 0),
            tzinfo=timezone.utc,
        )
    except ValueError:  # month 13, day 0 ...
        return None
    if match.group("zone") in ("+", "-"):
        offset = timedelta(hours=part.get("zone_hour", 0), minutes=part.get("zone_minute", 0))
        when = when - offset if match.group("zone") == "+" else when + offset
    return when


def document_date(document: Document) -> datetime | None:
    raw = document.metadata.get("created")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
