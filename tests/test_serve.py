"""The Dify External Knowledge API over real HTTP on localhost, served by uvicorn from a real KB."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from kbbuild.config import Settings
from kbbuild.serve.app import create_app

pytestmark = pytest.mark.slow
KEY = "test-key-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(app, wait_ready: bool = True) -> Iterator[httpx.Client]:
    """``app`` served by uvicorn on a free localhost port, and a client for it (once its models are
    loaded, unless ``wait_ready`` is False)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while wait_ready and client.get("/health").status_code == 503:  # the models are still loading
                assert time.monotonic() < deadline + 60, "the models did not load"
                time.sleep(0.1)
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def quiet() -> Settings:
    settings = Settings()
    settings.ingest.progress = False
    return settings


@pytest.fixture(scope="module")
def service(sample_kb):
    kb, _ = sample_kb
    with running(create_app(kb, quiet(), KEY)) as client:
        yield client


def _ask(client, query: str, *, key: str | None = KEY, top_k: int = 3, threshold: float = 0.0, **extra):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {
        "knowledge_id": "default",
        "query": query,
        "retrieval_setting": {"top_k": top_k, "score_threshold": threshold},
        **extra,
    }
    return client.post("/retrieval", json=body, headers=headers)


def test_retrieval_answers_in_difys_format(service):
    response = _ask(service, "How often must the pressure sensor be recalibrated?")
    assert response.status_code == 200
    records = response.json()["records"]
    assert 1 <= len(records) <= 3
    top = records[0]
    assert set(top) == {"content", "score", "title", "metadata"}
    assert "90 days" in top["content"] and top["title"] == "northwind_field_manual.pdf"
    assert 0 < top["score"] <= 1 and top["metadata"]["pages"] == [3]
    assert top["metadata"]["collection"] == "default" and top["metadata"]["matched_by"]
    assert top["metadata"]["document_id"] == "northwind_field_manual.pdf"  # Dify groups records by it
    chinese = _ask(service, "一线城市住宿费每晚不超过多少钱？", top_k=1).json()["records"]
    assert chinese[0]["title"] == "xinghe_travel_policy_zh.pdf" and "六百元" in chinese[0]["content"]


def test_auth_is_required_and_a_wrong_key_is_rejected(service):
    missing = _ask(service, "pump", key=None)
    assert missing.status_code == 401 and missing.json()["error_code"] == 1001
    wrong = _ask(service, "pump", key="not-the-key")
    assert wrong.status_code == 403 and wrong.json()["error_code"] == 1002
    basic = service.post("/retrieval", json={}, headers={"Authorization": "Basic abc"})
    assert basic.status_code in (400, 401)


def test_score_threshold_is_honoured(service):
    everything = _ask(service, "pump maintenance", top_k=10).json()["records"]
    scores = [r["score"] for r in everything]
    assert len(scores) >= 3
    cut = sorted(scores)[len(scores) // 2]
    kept = _ask(service, "pump maintenance", top_k=10, threshold=cut).json()["records"]
    assert kept and all(r["score"] >= cut for r in kept)
    assert len(kept) == sum(s >= cut for s in scores)
    assert _ask(service, "pump maintenance", top_k=10, threshold=1.0).json()["records"] == []


@pytest.mark.parametrize(
    ("condition", "check"),
    [
        ({"name": "source", "comparison_operator": "contains", "value": "harbor"}, lambda m: "harbor" in m["source"]),
        (
            {"name": ["source"], "comparison_operator": "is", "value": "lakeside_newsletter.pdf"},
            lambda m: m["source"] == "lakeside_newsletter.pdf",
        ),
        (
            {"name": "source", "comparison_operator": "not contains", "value": "northwind"},
            lambda m: "northwind" not in m["source"],
        ),
        (
            {"name": "source", "comparison_operator": "start with", "value": "xinghe"},
            lambda m: m["source"].startswith("xinghe"),
        ),
        (
            {
                "name": "source",
                "comparison_operator": "in",
                "value": ["harbor_q3_2026_results.pdf", "lakeside_newsletter.pdf"],
            },
            lambda m: m["source"] in ("harbor_q3_2026_results.pdf", "lakeside_newsletter.pdf"),
        ),
        ({"name": "page", "comparison_operator": "≥", "value": 3}, lambda m: max(m["pages"]) >= 3),
        ({"name": "page", "comparison_operator": "=", "value": 2}, lambda m: 2 in m["pages"]),
        (
            {"name": "heading_path", "comparison_operator": "contains", "value": "Safety"},
            lambda m: any("Safety" in h for h in m["heading_path"]),
        ),
        ({"name": "kinds", "comparison_operator": "is", "value": "table"}, lambda m: True),
    ],
)
def test_metadata_conditions_filter_records(service, condition, check):
    response = _ask(service, "pump safety revenue", top_k=10, metadata_condition={"conditions": [condition]})
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    assert records, condition
    assert all(check(r["metadata"]) for r in records), (condition, [r["metadata"]["source"] for r in records])


def test_conditions_combine_with_and_or(service):
    harbor = {"name": "source", "comparison_operator": "contains", "value": "harbor_q3"}
    lakeside = {"name": "source", "comparison_operator": "contains", "value": "lakeside"}
    both = {"logical_operator": "and", "conditions": [harbor, lakeside]}
    assert _ask(service, "news", top_k=10, metadata_condition=both).json()["records"] == []
    either = {"logical_operator": "or", "conditions": [harbor, lakeside]}
    sources = {
        r["metadata"]["source"] for r in _ask(service, "news", top_k=10, metadata_condition=either).json()["records"]
    }
    assert sources == {"harbor_q3_2026_results.pdf", "lakeside_newsletter.pdf"}


def test_documented_errors(service):
    unknown = service.post(
        "/retrieval",
        json={"knowledge_id": "legal", "query": "x", "retrieval_setting": {"top_k": 1, "score_threshold": 0}},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert unknown.status_code == 404 and unknown.json()["error_code"] == 2001
    bad_field = _ask(
        service,
        "x",
        metadata_condition={"conditions": [{"name": "colour", "comparison_operator": "is", "value": "red"}]},
    )
    assert bad_field.status_code == 400 and bad_field.json()["error_code"] == 3002
    dates = _ask(
        service,
        "x",
        metadata_condition={"conditions": [{"name": "source", "comparison_operator": "before", "value": "2024"}]},
    )
    assert dates.json()["error_code"] == 3002
    no_setting = service.post(
        "/retrieval", json={"knowledge_id": "default", "query": "x"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert no_setting.status_code == 400 and no_setting.json()["error_code"] == 3001
    pinned = service.post(
        "/retrieval",
        json={"knowledge_id": "default@1", "query": "pump", "retrieval_setting": {"top_k": 1, "score_threshold": 0}},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert pinned.status_code == 200 and pinned.json()["records"][0]["metadata"]["kb_version"] == 1


def test_health_and_openapi(service):
    health = service.get("/health", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert health["status"] == "ok" and health["auth"] is True and health["collections"] == {"default": 1}
    assert health["ready"] is True and health["models_loaded_for"] == ["default"]
    assert service.get("/health").json() == {"status": "ok", "ready": True}  # no details without the key
    openapi = service.get("/openapi.json").json()
    assert "/retrieval" in openapi["paths"] and "/health" in openapi["paths"]
    assert "RetrievalRequest" in openapi["components"]["schemas"]


def test_serve_refuses_a_public_address_without_a_key(sample_kb, cli, monkeypatch):
    kb, _ = sample_kb
    monkeypatch.delenv("KBBUILD_API_KEY", raising=False)
    result = cli("serve", "--kb", kb, "--host", "0.0.0.0")
    assert result.exit_code == 2 and "without an API key" in result.output


def test_models_load_at_start_up_and_health_says_when_they_are_ready(sample_kb, monkeypatch):
    """The server answers at once; /health is 503 "starting" until the embedding model is loaded,
    then 200 "ok", and the first query does not wait for a model."""
    from kbbuild.serve import app as serve_app

    kb, _ = sample_kb
    release = threading.Event()
    warm = serve_app._Readiness.warm

    def held_warm(self, *args):
        release.wait(30)  # the test looks at /health while loading is held here
        warm(self, *args)

    monkeypatch.setattr(serve_app._Readiness, "warm", held_warm)
    with running(create_app(kb, quiet(), KEY), wait_ready=False) as client:
        starting = client.get("/health")
        assert starting.status_code == 503 and starting.json() == {"status": "starting", "ready": False}
        release.set()
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "the models did not load"
            time.sleep(0.1)
        ready = client.get("/health", headers={"Authorization": f"Bearer {KEY}"}).json()
        assert ready["status"] == "ok" and ready["models_loaded_for"] == ["default"]
        started = time.monotonic()
        assert _ask(client, "How often must the pressure sensor be recalibrated?").status_code == 200
        assert time.monotonic() - started < 5  # the model was loaded already (a cold load took about 10 s)
