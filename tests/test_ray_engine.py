"""``--engine ray``: parsing, embedding and row writes on a real local Ray (2 CPUs) give the local
engine's KB, row for row (ids, texts, vectors to 1e-6), a bad file is reported the same way, and a
run that fails before its commit leaves the previous version as it was."""

from __future__ import annotations

import json
import re
import shutil
import sys

import numpy as np
import pytest

from kbbuild import KB

from .conftest import SAMPLES

pytestmark = pytest.mark.slow


def _rows(kb) -> dict[str, tuple[str, list[float]]]:
    store = KB.open(kb)
    table = store.chunks_table(store.manifest()).to_arrow().to_pylist()
    assert len(table) == len({row["id"] for row in table}), "a chunk id is stored twice"
    return {row["id"]: (row["text"], row["vector"]) for row in table}


def _same_rows(local: dict, ray: dict) -> None:
    assert local and set(local) == set(ray)
    for chunk_id, (text, vector) in local.items():
        assert ray[chunk_id][0] == text
        assert np.abs(np.array(ray[chunk_id][1]) - np.array(vector)).max() < 1e-6


def test_the_ray_engine_builds_the_local_engines_kb(tmp_path, cli, monkeypatch):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'kbbuild[ray]')")
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    # A section repeated in a second file: the cluster writes its row there too, and the driver's
    # duplicate index must take that row back.
    rule = (
        "# Mooring rules\n\nThe harbour authority inspects every mooring line at the start of each quarter and "
        "records the result in the berth log kept at the harbour office.\n\n"
    )
    (docs / "notes").mkdir()
    (docs / "notes" / "a.md").write_text(rule + "# Fuel\n\nFuel is sold at berth four on weekdays only.\n")
    (docs / "notes" / "b.md").write_text(rule + "# Visitors\n\nVisitors sign in at the gate house.\n")
    reports = {}
    for engine in ("local", "ray"):
        result = cli("ingest", docs, "--kb", tmp_path / engine, "--engine", engine, "--no-progress", "--json")
        assert result.exit_code == 1, result.output  # the broken PDF fails; the rest is committed
        reports[engine] = json.loads(result.stdout)
    _same_rows(_rows(tmp_path / "local"), _rows(tmp_path / "ray"))
    copy = next(f for f in reports["ray"]["files"] if f["relpath"] == "notes/b.md")
    assert copy["status"] == "ingested" and copy["chunks"] == 1 and len(copy["duplicates"]) == 1, copy
    failed = {
        engine: [(f["relpath"], f["error"]) for f in r["files"] if f["status"] == "failed"]
        for engine, r in reports.items()
    }
    assert failed["ray"] == failed["local"] == [("broken.pdf", failed["local"][0][1])]
    assert any("--engine ray: files were parsed on Ray" in note for note in reports["ray"]["notes"])
    # The chunks were embedded by the cluster's actors, not by the driver, and gave the same vectors.
    embedded = [n for n in reports["ray"]["notes"] if "chunk texts were embedded on the cluster" in n]
    assert len(embedded) == 1 and "not used" not in embedded[0], embedded
    on_cluster, total = (int(n) for n in re.match(r"--engine ray: (\d+) of (\d+)", embedded[0]).groups())
    assert on_cluster == total == sum(f["chunks"] for f in reports["ray"]["files"] if f["status"] == "ingested")
    # ... and their rows were written there, as fragments the driver committed (the copy's among them).
    staged = [n for n in reports["ray"]["notes"] if "chunk rows were written on the cluster" in n]
    assert len(staged) == 1 and int(staged[0].split()[2]) == total + sum(
        f["cleaning"]["duplicates_exact"] + f["cleaning"]["duplicates_near"] for f in reports["ray"]["files"]
    ), staged

    # A run that fails after the staged rows were appended, before its commit, changes nothing; the
    # next run rolls the table back and commits the local engine's rows.
    added = "\n\n## 新增问题\n\n差旅报销需在出差结束后十五日内提交。\n"
    faq = docs / "xinghe_faq_zh.md"
    faq.write_text(faq.read_text(encoding="utf-8") + added, encoding="utf-8")
    before = _rows(tmp_path / "ray")
    monkeypatch.setenv("KBBUILD_CRASH_AT", "rows_written:raise")
    with pytest.raises(RuntimeError, match="fault injected at rows_written"):
        cli("ingest", docs, "--kb", tmp_path / "ray", "--engine", "ray", "--no-progress")
    monkeypatch.delenv("KBBUILD_CRASH_AT")
    assert KB.open(tmp_path / "ray").manifest().kb_version == 1
    _same_rows(before, _rows(tmp_path / "ray"))
    for engine in ("local", "ray"):
        result = cli("ingest", docs, "--kb", tmp_path / engine, "--engine", engine, "--no-progress", "--json")
        assert result.exit_code == 1 and json.loads(result.stdout)["kb_version"] == 2, result.output
    _same_rows(_rows(tmp_path / "local"), _rows(tmp_path / "ray"))


def test_without_ray_the_engine_says_how_to_install_it(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as on a machine without the extra
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "northwind_field_manual.pdf", docs)
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--engine", "ray", "--no-progress")
    assert result.exit_code == 2
    assert "pip install 'kbbuild[ray]'" in result.output
    assert not (tmp_path / "kb" / "versions").exists()


def test_a_file_over_its_memory_limit_fails_on_the_cluster_with_the_limit_named(tmp_path, cli):
    """The parse actors cap their own address space from ``[limits] file_memory_mb``: 6 MB of nested
    Markdown (a huge tree in unstructured) fails with the limit named, as it does locally, and the
    actor goes on to commit the good note."""
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'kbbuild[ray]')")
    from . import hostile_corpus

    docs = tmp_path / "docs"
    docs.mkdir()
    hostile_corpus.nested_markdown(docs / "nested.md")
    (docs / "note.txt").write_text(hostile_corpus.GOOD_NOTE, encoding="utf-8")
    config = tmp_path / "kbbuild.toml"
    config.write_text("[limits]\nfile_memory_mb = 700\n", encoding="utf-8")
    result = cli(
        "ingest", docs, "--kb", tmp_path / "kb", "-c", config, "--engine", "ray", "--json", "--no-progress"
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    files = {f["relpath"]: f for f in report["files"]}
    assert report["kb_version"] == 1 and files["note.txt"]["status"] == "ingested"
    assert files["nested.md"]["status"] == "failed"
    assert "[limits] file_memory_mb = 700" in files["nested.md"]["error"], files["nested.md"]["error"]
