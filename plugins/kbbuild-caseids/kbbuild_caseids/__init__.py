"""kbbuild plugin: redact claim and case numbers (``CLM-2026-004512``) before anything is chunked.

A domain rule of the kind kbbuild's generic PII cleaner cannot know: an insurer's claim numbers are
not personal data in general, but in this KB they lead to a person. The cleaner rewrites every
element's text (and a table's HTML) and says in the file's warnings how many it replaced.
"""

from __future__ import annotations

import re

from kbbuild import hookimpl
from kbbuild.config import Settings
from kbbuild.providers import Cleaner
from kbbuild.records import Document

# The kbbuild plugin API versions this plugin is written for (kbbuild refuses to load it otherwise).
kbbuild_api = ">=1.0,<2"

# Two to four capitals, the year, then four to eight digits: CLM-2026-004512, CASE-2025-88123.
CASE_ID = re.compile(r"\b[A-Z]{2,4}-(?:19|20)\d\d-\d{4,8}\b")
MASK = "[CASE-ID]"


class CaseIdCleaner(Cleaner):
    name = "case-ids"
    version = "0.1.0"
    order = 150  # after furniture removal (so a running header's number is not counted twice)

    def clean(self, document: Document, settings: Settings) -> Document:
        replaced = 0
        elements = []
        for element in document.elements:
            text, count = CASE_ID.subn(MASK, element.text)
            html = CASE_ID.sub(MASK, element.html) if element.html else element.html
            replaced += count
            elements.append(element.model_copy(update={"text": text, "html": html}) if count else element)
        if not replaced:
            return document
        warning = f"case-ids: {replaced} claim or case numbers redacted"
        return document.model_copy(update={"elements": tuple(elements), "warnings": (*document.warnings, warning)})


@hookimpl
def kbbuild_register_cleaners(register) -> None:
    register(CaseIdCleaner())
