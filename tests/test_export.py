"""Every export format read back and validated against its JSON Schema in schemas/."""

from __future__ import annotations

import json

import jsonschema
import pyarrow.parquet as pq
import pytest

from kbbuild import KB

from .conftest import ROOT

pytestmark = pytest.mark.slow


def _schema(name: str) -> dict:
    return json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


def test_jsonl_round_trip(sample_kb, cli, tmp_path):
    kb, report = sample_kb
    out = tmp_path / "chunks.jsonl"
    result = cli("export", out, "--kb", kb)
    assert result.exit_code == 0 and f"wrote {report.counts.chunks_total} records" in result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == report.counts.chunks_total
    for row in rows:
        jsonschema.validate(row, _schema("exported-chunk"))
    assert all(row["vector"] is None for row in rows)
    stored = {r["id"]: r["text"] for r in KB.open(kb).chunks_table(KB.open(kb).manifest()).to_arrow().to_pylist()}
    assert {row["id"]: row["text"] for row in rows} == stored


def test_parquet_round_trip_with_vectors(sample_kb, cli, tmp_path):
    kb, report = sample_kb
    out = tmp_path / "chunks.parquet"
    assert cli("export", out, "--kb", kb, "--format", "parquet", "--vectors").exit_code == 0
    table = pq.read_table(out)
    assert table.num_rows == report.counts.chunks_total
    dim = KB.open(kb).manifest().embedding.dim
    assert table.schema.field("vector").type.list_size == dim
    for row in table.to_pylist():
        jsonschema.validate(row, _schema("exported-chunk"))
        assert len(row["vector"]) == dim


def test_markdown_one_cleaned_file_per_document(sample_kb, cli, tmp_path):
    kb, report = sample_kb
    out = tmp_path / "md"
    assert cli("export", out, "--kb", kb, "--format", "markdown").exit_code == 0
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    jsonschema.validate(index, _schema("markdown-index"))
    ingested = {f.relpath for f in report.files if f.chunks}
    assert {d["source"] for d in index["documents"]} == ingested
    manual = (out / "northwind_field_manual.pdf.md").read_text(encoding="utf-8")
    assert manual.startswith('---\nsource: "northwind_field_manual.pdf"')
    assert "\n# Northwind Pumps Field Service Manual\n" in manual
    assert "\n### 3.1 Pressure sensor calibration\n" in manual
    assert "every 90 days" in manual
    # Running headers and page numbers were stripped at ingest and do not come back.
    assert "Page 1 of 4" not in manual and "Northwind Pumps - Field Service Manual NW-300/500" not in manual
    chinese = (out / "xinghe_travel_policy_zh.pdf.md").read_text(encoding="utf-8")
    assert "## 第三章 住宿标准" in chinese and "六百元" in chinese
