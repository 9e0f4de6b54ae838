"""The service under abuse, over real HTTP: out-of-range and non-finite settings, megabyte queries,
injection-shaped filters, and a crowd of concurrent clients while an ingest commits a new version
of the same KB. Nothing may answer 5xx, and the key appears in no log and no file of the KB."""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from kbbuild import KB
from kbbuild.serve.app import create_app
from tests.test_serve import KEY, quiet, running

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}


def _body(query: str = "pump maintenance", **setting) -> dict:
    retrieval_setting = {"top_k": 3, "score_threshold": 0} | setting
    return {"knowledge_id": "default", "query": query, "retrieval_setting": retrieval_setting}


@pytest.fixture(scope="module")
def served(sample_kb):
    kb, _ = sample_kb
    with running(create_app(kb, quiet(), KEY)) as client:
        yield client


@pytest.mark.parametrize(
    "setting",
    [
        {"top_k": 0},
        {"top_k": -1},
        {"top_k": 101},
        {"top_k": 10**12},
        {"top_k": "five"},
        {"top_k": 2.5},
        {"score_threshold": -0.5},
        {"score_threshold": 1.5},
        {"score_threshold": "high"},
    ],
)
def test_out_of_range_settings_are_3001(served, setting):
    response = served.post("/retrieval", json=_body(**setting), headers=AUTH)
    assert response.status_code == 400 and response.json()["error_code"] == 3001, response.text


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_thresholds_are_3001(served, token):
    """Python's JSON reader accepts these tokens; a NaN threshold would compare false with every
    score and silently return nothing."""
    raw = json.dumps(_body()).replace('"score_threshold": 0', f'"score_threshold": {token}')
    response = served.post("/retrieval", content=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error_code"] == 3001, response.text


def test_a_megabyte_query_is_refused_and_a_long_one_is_capped(served):
    huge = served.post("/retrieval", json=_body("pump " * 220_000), headers=AUTH)
    assert huge.status_code == 413 and huge.json()["error_code"] == 3003  # over the 1 MiB body limit
    long = served.post("/retrieval", json=_body("pump " * 100_000), headers=AUTH)  # 500 KB: under the body limit
    assert long.status_code == 400 and long.json()["error_code"] == 3001
    assert "over 8,000" in long.json()["error_msg"]
    fine = served.post("/retrieval", json=_body("pump " * 1_500), headers=AUTH)  # 7,500 characters
    assert fine.status_code == 200


def test_injection_shaped_filters_are_refused_and_change_nothing(sample_kb, cli, tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(sample_kb[0], kb)
    rows = KB.open(kb).chunks_table(KB.open(kb).manifest()).count_rows()
    for where in ("1=1; DROP TABLE chunks", "id IN (SELECT id FROM chunks)"):
        result = cli("query", "pump", "--kb", kb, "--where", where)
        assert result.exit_code != 0 and "invalid filter" in result.output, result.output
    # Read-only by construction: a broad filter is still just a filter over the user's own KB.
    assert cli("query", "pump", "--kb", kb, "--where", "source = 'x;y' OR 1=1 --").exit_code == 0
    assert KB.open(kb).chunks_table(KB.open(kb).manifest()).count_rows() == rows


def test_a_crowd_of_clients_while_an_ingest_commits(sample_kb, tmp_path, caplog):
    """Eight clients query as fast as they can while ``kbbuild ingest`` adds a file to the same KB
    and commits version 2; every answer is a 200, and the key is in no log line and no KB file."""
    kb = tmp_path / "kb"
    shutil.copytree(sample_kb[0], kb)
    docs = tmp_path / "docs"
    shutil.copytree(Path(__file__).resolve().parent.parent / "samples", docs)
    (docs / "new_notice.txt").write_text("Berth 9 closes for dredging from 3 to 9 March.", encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    statuses: list[int] = []
    latencies: list[float] = []
    lock, stop = threading.Lock(), threading.Event()
    with running(create_app(kb, quiet(), KEY)) as client:
        base = str(client.base_url)

        def crowd(index: int) -> None:
            queries = ["pump maintenance", "berth closure", "报销 标准", "dredging", "Q3 revenue"]
            with httpx.Client(base_url=base, timeout=120) as own:
                while not stop.is_set():
                    started = time.monotonic()
                    response = own.post("/retrieval", json=_body(queries[index % len(queries)]), headers=AUTH)
                    with lock:
                        statuses.append(response.status_code)
                        latencies.append(time.monotonic() - started)
                    index += 1

        threads = [threading.Thread(target=crowd, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        ingest = subprocess.run(
            [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        time.sleep(2)  # queries after the commit too
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        after = client.post("/retrieval", json=_body("dredging Berth 9 March"), headers=AUTH).json()
    assert ingest.returncode == 0, ingest.stderr
    assert KB.open(kb).versions() == [1, 2]
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert any("Berth 9" in record["content"] for record in after["records"])  # the new version is served
    p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=20)[-1]
    print(f"\nload: {len(statuses)} requests, 0 errors, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    assert KEY not in caplog.text and KEY not in ingest.stdout + ingest.stderr
    for path in kb.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
