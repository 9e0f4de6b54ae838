"""Rollback, gc and collections, from the CLI on a real KB: history only ever grows, except when the
user asks gc to delete versions, and then nothing a kept version needs is lost."""

from __future__ import annotations

import json
import shutil

import jsonschema
import lancedb
import pytest

from kbbuild import KB

from .conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow

HARBOR = "harbor_q3_2026_results.pdf"
NORTHWIND = "northwind_field_manual.pdf"
XINGHE = "xinghe_travel_policy_zh.pdf"


def _schema(name: str) -> dict:
    return json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


def _rows(kb, version: int | None = None, collection: str | None = None) -> list[tuple[str, str]]:
    store = KB.open(kb, collection)
    table = store.chunks_table(store.manifest(version)).to_arrow().select(["source", "text"])
    return sorted(zip(table["source"].to_pylist(), table["text"].to_pylist(), strict=True))


@pytest.fixture()
def three_versions(tmp_path, cli):
    """v1: harbor + northwind; v2: harbor removed, xinghe added; v3: northwind removed."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in (HARBOR, NORTHWIND):
        shutil.copy(SAMPLES / name, docs)
    kb = tmp_path / "kb"
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0
    (docs / HARBOR).unlink()
    shutil.copy(SAMPLES / XINGHE, docs)
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0
    (docs / NORTHWIND).unlink()
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0
    return docs, kb


def test_rollback_makes_old_content_current_as_a_new_version(three_versions, cli):
    docs, kb = three_versions
    v1_rows = _rows(kb, 1)
    v3_rows = _rows(kb, 3)
    cli("tag", "1", "good", "--kb", kb)

    result = cli("rollback", "good", "--kb", kb)
    assert result.exit_code == 0, result.output
    assert "KB version 4 has the content of version 1" in result.output
    store = KB.open(kb)
    assert store.versions() == [1, 2, 3, 4]
    manifest = store.manifest()
    assert manifest.operation == "rollback" and manifest.restored_from == 1 and manifest.parent_version == 3
    assert _rows(kb) == v1_rows
    assert _rows(kb, 3) == v3_rows  # history is not rewritten
    hits = json.loads(cli("query", "share buyback", "--kb", kb, "--json").output)
    assert hits[0]["source"] == HARBOR and hits[0]["kb_version"] == 4

    listing = cli("versions", "--kb", kb).output.splitlines()
    line = next(line for line in listing if line.strip().startswith("4 "))
    assert "rollback->1" in line
    # Against version 3 (xinghe only), version 4 adds harbor and northwind and removes xinghe.
    assert line.split()[5:8] == ["2", "0", "1"]

    # The next ingest starts from the rolled-back content: the folder (xinghe only) wins again,
    # and only xinghe has to be processed.
    report = json.loads(cli("ingest", docs, "--kb", kb, "--no-progress", "--json").output)
    assert report["kb_version"] == 5
    assert report["counts"]["files_ingested"] == 1 and report["counts"]["files_removed"] == 2
    assert _rows(kb) == v3_rows

    assert cli("rollback", "5", "--kb", kb).exit_code == 4  # already current
    assert cli("rollback", "9", "--kb", kb).exit_code == 4


def test_gc_keeps_newest_and_tagged_versions_and_compacts(three_versions, cli):
    docs, kb = three_versions
    shutil.copy(SAMPLES / NORTHWIND, docs)  # v4: a second fragment, so compaction has work to do
    assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0
    cli("tag", "1", "audit-2026", "--kb", kb)
    v1_rows, v4_rows = _rows(kb, 1), _rows(kb, 4)
    db = lancedb.connect(str(kb / "lancedb"))
    versions_before = len(db.open_table("chunks").list_versions())

    result = cli("gc", "--kb", kb, "--keep", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    jsonschema.validate(report, _schema("gc-report"))
    assert report["new_version"] == 5 and report["compacted"]["chunks"] == 2
    assert report["removed"] == [2, 3] and report["kept"] == [1, 4, 5] and report["tagged_kept"] == [1]
    assert report["bytes_removed"] > 0

    store = KB.open(kb)
    assert store.manifest().operation == "gc" and store.manifest().removed_versions == [2, 3]
    assert _rows(kb) == v4_rows and _rows(kb, 4) == v4_rows and _rows(kb, store.resolve("audit-2026")) == v1_rows
    assert len(db.open_table("chunks").list_versions()) < versions_before
    assert len(db.open_table("chunks").to_lance().get_fragments()) == 1
    gone = cli("query", "x", "--kb", kb, "--version", "2")
    assert gone.exit_code == 4 and "does not exist" in gone.output
    # A rollback to a version gc kept still works after the data of the others is gone.
    assert cli("rollback", "audit-2026", "--kb", kb).exit_code == 0
    assert _rows(kb) == v1_rows
    assert cli("gc", "--kb", kb, "--keep", "0").exit_code == 4


def test_collections_are_separate_kbs_in_one_folder(tmp_path, cli):
    hr, finance = tmp_path / "hr", tmp_path / "finance"
    hr.mkdir()
    finance.mkdir()
    shutil.copy(SAMPLES / XINGHE, hr)
    shutil.copy(SAMPLES / HARBOR, finance)
    kb = tmp_path / "kb"
    assert cli("ingest", hr, "--kb", kb, "--collection", "hr", "--no-progress").exit_code == 0
    assert cli("ingest", finance, "--kb", kb, "--collection", "finance", "--no-progress").exit_code == 0
    assert cli("ingest", finance, "--kb", kb, "--collection", "finance", "--no-progress").exit_code == 0

    listed = json.loads(cli("list", "--kb", kb, "--json").output)
    jsonschema.validate(listed, _schema("collections"))
    by_name = {c["name"]: c for c in listed}
    assert list(by_name) == ["default", "finance", "hr"]
    assert by_name["default"]["latest_version"] is None
    assert by_name["finance"]["versions"] == 2 and by_name["finance"]["files"] == 1
    assert by_name["hr"]["versions"] == 1 and by_name["hr"]["chunks"] > 0
    text = cli("list", "--kb", kb).output
    assert "finance" in text and "(empty)" in text

    assert {source for source, _ in _rows(kb, collection="hr")} == {XINGHE}
    assert {source for source, _ in _rows(kb, collection="finance")} == {HARBOR}
    hits = json.loads(cli("query", "share buyback", "--kb", kb, "--collection", "hr", "--json").output)
    assert all(hit["source"] == XINGHE for hit in hits)
    missing = cli("query", "x", "--kb", kb, "--collection", "legal")
    assert missing.exit_code == 4 and "no collection 'legal'" in missing.output and "finance" in missing.output
    assert cli("versions", "--kb", kb, "--collection", "../up").exit_code == 4
