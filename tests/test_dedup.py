"""Duplicate chunks: exact and near, English and Chinese, across files and across re-ingests."""

from __future__ import annotations

import json
import shutil

import lancedb

from kbbuild import KB, ingest
from kbbuild.clean.dedup import DuplicateIndex
from kbbuild.records import FileStatus
from kbbuild.retrieve.evaluate import evaluate_kb

from .conftest import SAMPLES, quiet_settings

EN = (
    "The NW-300 pump must be drained before the impeller housing is opened; residual pressure in "
    "the volute can eject the cover plate with enough force to injure a technician."
)
ZH = "差旅费用报销须在出差结束后十五个工作日内提交，逾期未提交的，财务部门不予受理，特殊情况须经部门负责人书面批准。"


def _index() -> DuplicateIndex:
    index = DuplicateIndex(near=True, threshold=0.8)
    index.add("en-1", "a.pdf", EN)
    index.add("zh-1", "b.pdf", ZH)
    return index


def test_exact_duplicates_ignore_case_width_and_spacing():
    index = _index()
    match = index.match("  " + EN.upper().replace(" ", "  ") + " ")
    assert match is not None and match.original.chunk_id == "en-1" and not match.near
    match = index.match(ZH.replace("，", ","))  # full-width comma folded to ASCII by NFKC
    assert match is not None and match.original.chunk_id == "zh-1"


def test_near_duplicates_in_english_and_chinese():
    index = _index()
    ocr_like = EN.replace("impeller housing", "impeller  housinq").replace(";", ",")
    match = index.match(ocr_like)
    assert match is not None and match.near and match.original.source == "a.pdf"
    edited = ZH.replace("特殊情况", "如有特殊情况")
    match = index.match(edited)
    assert match is not None and match.near and match.original.chunk_id == "zh-1"


def test_different_text_different_numbers_and_short_chunks_are_not_duplicates():
    index = _index()
    assert index.match("Replace the shaft seal every 4,000 operating hours or at the first sign of leakage.") is None
    assert index.match(EN.replace("NW-300", "NW-500")) is None  # a figure differs: not the same fact
    index.add("short", "c.pdf", "Introduction")
    assert index.match("Introduction") is None


def test_removed_file_is_undone():
    index = _index()
    index.remove(["en-1"])
    assert index.match(EN) is None and index.match(ZH) is not None


def test_duplicate_files_are_linked_and_promoted_when_the_original_goes(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "northwind_field_manual.pdf", docs / "a_manual.pdf")
    shutil.copy(SAMPLES / "northwind_field_manual.pdf", docs / "b_manual_copy.pdf")
    kb = tmp_path / "kb"
    first = ingest(docs, kb, quiet_settings())
    files = {f.relpath: f for f in first.files}
    original, copy = files["a_manual.pdf"], files["b_manual_copy.pdf"]
    assert original.chunks > 0 and not original.duplicates
    assert copy.chunks == 0 and len(copy.duplicates) == original.chunks
    assert {link.duplicate_of_source for link in copy.duplicates} == {"a_manual.pdf"}
    assert first.counts.cleaning.duplicates_exact == original.chunks
    table = lancedb.connect(str(kb / "lancedb")).open_table("chunks")
    assert {row["source"] for row in table.search().select(["source"]).limit(1000).to_list()} == {"a_manual.pdf"}
    # A hit names the linked copy too: nothing is lost for the reader either.
    hit = KB.open(kb).query("How often is the pressure sensor recalibrated?", k=1, settings=quiet_settings())[0]
    assert hit.source == "a_manual.pdf" and [a.source for a in hit.also_in] == ["b_manual_copy.pdf"]
    assert hit.also_in[0].pages == list(hit.pages) and not hit.also_in[0].near
    # kbbuild eval credits the copy: a question whose evidence is the copy's page is answered by the
    # stored original, which stands for it.
    qrels = tmp_path / "qrels.jsonl"
    evidence = {"doc": "b_manual_copy.pdf", "page": 3}
    qrels.write_text(json.dumps({"question": "How often is the pressure sensor recalibrated?", "evidence": [evidence]}))
    scored = evaluate_kb(KB.open(kb), qrels, configs=["hybrid"], settings=quiet_settings())
    assert scored.results[0].first_hit_ranks == {"1": 1}

    # The original goes: the copy, unchanged itself, is processed again and now stored.
    (docs / "a_manual.pdf").unlink()
    second = ingest(docs, kb, quiet_settings())
    copy = next(f for f in second.files if f.relpath == "b_manual_copy.pdf")
    assert copy.status is FileStatus.INGESTED and copy.chunks == original.chunks and not copy.duplicates
    manifest = KB.open(kb).manifest()
    assert manifest.counts.chunks_total == original.chunks


def test_dedup_off_stores_every_copy(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("a.pdf", "b.pdf"):
        shutil.copy(SAMPLES / "harbor_q3_2026_results.pdf", docs / name)
    settings = quiet_settings()
    settings.clean.dedup = "off"
    report = ingest(docs, tmp_path / "kb", settings)
    assert [f.chunks for f in report.files] == [report.files[0].chunks] * 2 and report.files[0].chunks > 0


def test_a_file_added_later_links_to_what_an_earlier_version_stored(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "xinghe_travel_policy_zh.pdf", docs / "policy.pdf")
    kb = tmp_path / "kb"
    first = ingest(docs, kb, quiet_settings())
    stored = first.files[0].chunks
    shutil.copy(SAMPLES / "xinghe_travel_policy_zh.pdf", docs / "policy_copy.pdf")
    second = ingest(docs, kb, quiet_settings())
    files = {f.relpath: f for f in second.files}
    assert files["policy.pdf"].status is FileStatus.UNCHANGED
    copy = files["policy_copy.pdf"]
    assert copy.status is FileStatus.INGESTED and copy.chunks == 0
    assert len(copy.duplicates) == stored and {d.duplicate_of_source for d in copy.duplicates} == {"policy.pdf"}
    assert second.counts.chunks_total == stored
