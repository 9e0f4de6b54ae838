"""Dify's External Knowledge API to the letter, over real HTTP: the request shapes Dify sends (every
comparison operator of its document, ``logical_operator``, value-less ``empty``/``not empty``, the
name as a string or as the one-element list older Dify versions send), the record shape it reads
(``metadata`` always an object carrying ``document_id``), and the date fields ``before``/``after``
work on: the file's modified time, when it was ingested, and the date the document gives itself."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kbbuild import ingest
from kbbuild.serve.app import create_app

from .conftest import quiet_settings
from .pdfmaker import notes_pdf
from .test_serve import KEY, quiet, running

pytestmark = pytest.mark.slow


def _dated_memo(path: Path, number: int, created: str | None, modified: datetime) -> None:
    """A memo PDF whose Info CreationDate is ``created`` (PDF date syntax; None: a broken one) and
    whose file modification time is ``modified``."""
    from reportlab.pdfgen import canvas

    original = canvas.Canvas.save

    def save(self):
        self._doc.setDateFormatter(lambda *_parts: created or "D:not-a-date")
        original(self)

    canvas.Canvas.save = save
    try:
        notes_pdf(path, number)
    finally:
        canvas.Canvas.save = original
    os.utime(path, (modified.timestamp(), modified.timestamp()))


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """A KB of three memos ingested in two versions: old.pdf and new.pdf first, late.pdf later."""
    docs = tmp_path_factory.mktemp("dated") / "docs"
    docs.mkdir()
    _dated_memo(docs / "old.pdf", 1, "D:20190315093000+02'00'", datetime(2020, 1, 1, tzinfo=timezone.utc))
    _dated_memo(docs / "new.pdf", 2, "D:20230801", datetime(2024, 6, 1, 12, tzinfo=timezone.utc))
    kb = docs.parent / "kb"
    ingest(docs, kb, quiet_settings())
    time.sleep(1.1)
    between = datetime.now(timezone.utc)
    time.sleep(1.1)
    _dated_memo(docs / "late.pdf", 3, None, datetime(2025, 2, 2, tzinfo=timezone.utc))
    ingest(docs, kb, quiet_settings())
    return kb, between


def _ask(http, conditions: list[dict] | None, logical: str | None = None, top_k: int = 40):
    """The body Dify's external knowledge client sends."""
    body: dict = {
        "knowledge_id": "default",
        "query": "operations memo",
        "retrieval_setting": {"top_k": top_k, "score_threshold": 0.0},
    }
    if conditions is not None:
        body["metadata_condition"] = {"conditions": conditions}
        if logical is not None:
            body["metadata_condition"]["logical_operator"] = logical
    return http.post("/retrieval", json=body, headers={"Authorization": f"Bearer {KEY}"})


def test_every_operator_dify_sends_and_the_record_shape(dated):
    kb, between = dated
    everything = {"old.pdf", "new.pdf", "late.pdf"}

    def sources(*conditions: dict, logical: str | None = None) -> set[str]:
        answer = _ask(http, list(conditions), logical)
        assert answer.status_code == 200, answer.text
        return {record["metadata"]["source"] for record in answer.json()["records"]}

    def cond(name, op, value=None, as_list=False) -> dict:
        condition = {"name": [name] if as_list else name, "comparison_operator": op}
        if value is not None:
            condition["value"] = value
        return condition

    with running(create_app(kb, quiet(), KEY)) as http:
        plain = _ask(http, None)
        assert plain.status_code == 200
        records = plain.json()["records"]
        assert {r["metadata"]["source"] for r in records} == everything
        for record in records:
            assert set(record) >= {"content", "score", "title", "metadata"} and 0 <= record["score"] <= 1
            assert isinstance(record["metadata"], dict)
            assert record["metadata"]["document_id"] == record["metadata"]["source"]
            assert record["metadata"]["pages"] and isinstance(record["metadata"]["heading_path"], list)

        # text operators, the name as a string and as a one-element list
        assert sources(cond("source", "contains", "ol")) == {"old.pdf"}
        assert sources(cond("source", "not contains", "ol", as_list=True)) == {"new.pdf", "late.pdf"}
        assert sources(cond("source", "start with", "la")) == {"late.pdf"}
        assert sources(cond("source", "end with", "w.pdf")) == {"new.pdf"}
        assert sources(cond("source", "is", "new.pdf")) == {"new.pdf"}
        assert sources(cond("source", "is not", "new.pdf")) == {"old.pdf", "late.pdf"}
        assert sources(cond("source", "in", ["old.pdf", "late.pdf"])) == {"old.pdf", "late.pdf"}
        assert sources(cond("source", "not in", ["old.pdf", "late.pdf"])) == {"new.pdf"}
        assert sources(cond("source", "empty")) == set()
        assert sources(cond("source", "not empty")) == everything
        # numeric operators (kb_version: old and new were written by version 1, late by version 2)
        assert sources(cond("kb_version", "=", 2)) == {"late.pdf"}
        assert sources(cond("kb_version", "≠", "2")) == {"old.pdf", "new.pdf"}
        assert sources(cond("kb_version", ">", 1)) == {"late.pdf"}
        assert sources(cond("kb_version", "<", 2)) == {"old.pdf", "new.pdf"}
        assert sources(cond("kb_version", "≥", 1)) == everything
        assert sources(cond("kb_version", "≤", 1)) == {"old.pdf", "new.pdf"}
        # dates: the document's own (old: 2019-03-15 07:30 UTC; new: 2023-08-01; late: unreadable)
        assert sources(cond("document_date", "before", "2020-01-01")) == {"old.pdf"}
        assert sources(cond("document_date", "after", "2019-03-15")) == {"new.pdf"}  # the whole day is excluded
        assert sources(cond("document_date", "after", "2019-03-15T07:00:00Z")) == {"old.pdf", "new.pdf"}
        assert sources(cond("document_date", "empty")) == {"late.pdf"}
        assert sources(cond("document_date", "not empty")) == {"old.pdf", "new.pdf"}
        # the file's modified time, as a date or as Unix seconds (what Dify stores for time fields)
        assert sources(cond("modified", "before", "2024-06-01")) == {"old.pdf"}
        assert sources(cond("modified", "after", datetime(2024, 6, 2, tzinfo=timezone.utc).timestamp())) == {"late.pdf"}
        # when each file's rows were written
        assert sources(cond("ingested", "before", between.isoformat())) == {"old.pdf", "new.pdf"}
        assert sources(cond("ingested", "after", between.isoformat())) == {"late.pdf"}
        assert sources(cond("ingested", "before", "2000-01-01")) == set()  # no file: a filter that matches nothing
        # logical_operator, and its default (and)
        old_or_late = [cond("source", "is", "old.pdf"), cond("modified", "after", "2025-01-01")]
        assert sources(*old_or_late, logical="or") == {"old.pdf", "late.pdf"}
        assert sources(*old_or_late, logical="and") == set()
        assert sources(*old_or_late) == set()

        # refusals name what is wrong, with Dify's error code 3002
        for condition, message in (
            (cond("source", "before", "2024-01-01"), "applies to the date fields"),
            (cond("modified", "contains", "2024"), "does not apply to a date field"),
            (cond("modified", "before", "next tuesday"), "expected a date"),
            (cond("modified", "before"), "needs a value"),
        ):
            answer = _ask(http, [condition])
            assert answer.status_code == 400 and answer.json()["error_code"] == 3002, answer.text
            assert message in answer.json()["error_msg"]
