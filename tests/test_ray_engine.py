"""``--engine ray``: parsing and embedding on a real local Ray (2 CPUs) give the local engine's KB, row
for row (ids, texts, vectors to 1e-6), and a bad file is reported the same way."""

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
    return {row["id"]: (row["text"], row["vector"]) for row in table}


def test_the_ray_engine_builds_the_local_engines_kb(tmp_path, cli):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'kbbuild[ray]')")
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    reports = {}
    for engine in ("local", "ray"):
        result = cli("ingest", docs, "--kb", tmp_path / engine, "--engine", engine, "--no-progress", "--json")
        assert result.exit_code == 1, result.output  # the broken PDF fails; the rest is committed
        reports[engine] = json.loads(result.stdout)
    local, ray = _rows(tmp_path / "local"), _rows(tmp_path / "ray")
    assert local and set(local) == set(ray)
    for chunk_id, (text, vector) in local.items():
        assert ray[chunk_id][0] == text
        assert np.abs(np.array(ray[chunk_id][1]) - np.array(vector)).max() < 1e-6
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


def test_without_ray_the_engine_says_how_to_install_it(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as on a machine without the extra
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "northwind_field_manual.pdf", docs)
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--engine", "ray", "--no-progress")
    assert result.exit_code == 2
    assert "pip install 'kbbuild[ray]'" in result.output
    assert not (tmp_path / "kb" / "versions").exists()
