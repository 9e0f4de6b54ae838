"""The service under hostile or careless clients, over real HTTP: the key is checked before the body
is read, bodies are capped, every error is ``{error_code, error_msg}`` JSON without the KB's folder
or columns, and LIKE wildcards in a condition value match literally (checked on a real LanceDB table)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Sequence

import lancedb
import pyarrow as pa
import pytest

from kbbuild.config import Settings, load_settings
from kbbuild.errors import ConfigError, KBError
from kbbuild.serve import app as serve_app
from kbbuild.serve.app import create_app
from kbbuild.serve.conditions import MetadataCondition, metadata_sql
from tests.test_serve import KEY, quiet, running

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}
SETTING = {"top_k": 5, "score_threshold": 0}
INTERNALS = ("page_start", "page_end", "array_", "LIKE", "ESCAPE", "lance", "Traceback")


@pytest.fixture(scope="module")
def served(sample_kb):
    """(client, port, kb path) of a service with the default body limit."""
    kb, _ = sample_kb
    with running(create_app(kb, quiet(), KEY)) as client:
        yield client, client.base_url.port, kb


def _raw(port: int, head: str, parts: Sequence[bytes] = (), timeout: float = 10) -> tuple[int, dict, float]:
    """Send ``head`` and then ``parts`` of a body over a bare socket, stopping when the server stops
    listening, and read the answer: (status, JSON body, seconds until the answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        for part in parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line for line in header.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:])
        while len(body) < length:
            body += sock.recv(65536)
    return int(header.split()[1]), json.loads(body), time.monotonic() - started


def _head(length: int | None, *, key: str | None = None, chunked: bool = False) -> str:
    lines = ["POST /retrieval HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return "\r\n".join(lines) + "\r\n\r\n"


def _post(client, body: dict | str | bytes, headers: dict | None = AUTH):
    if isinstance(body, dict):
        return client.post("/retrieval", json=body, headers=headers)
    return client.post("/retrieval", content=body, headers={**(headers or {}), "Content-Type": "application/json"})


def _condition(**condition) -> dict:
    return {"knowledge_id": "default", "query": "pump", "retrieval_setting": SETTING, "metadata_condition": condition}


def _is_error(response, status: int, code: int) -> str:
    """The error message, after checking the status and the JSON shape every error has."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    payload = response.json()
    assert set(payload) == {"error_code", "error_msg"} and payload["error_code"] == code, payload
    return payload["error_msg"]


# -- 1. the key before the body, and a cap on the body ------------------------------------------


def test_a_big_body_without_a_key_is_refused_before_it_is_read(served):
    _, port, _ = served
    # 400 MB declared, 64 KiB sent: the answer can only come before the body does.
    status, payload, seconds = _raw(port, _head(400_000_000), [b"x" * 65536])
    assert (status, payload["error_code"]) == (401, 1001) and seconds < 5
    status, payload, _ = _raw(port, _head(400_000_000, key="wrong-key"), [b"x" * 65536])
    assert (status, payload["error_code"]) == (403, 1002)


def test_an_oversized_body_gets_413_json_whether_declared_or_chunked(served):
    _, port, _ = served
    limit = Settings().serve.max_body_bytes
    status, payload, seconds = _raw(port, _head(limit + 1, key=KEY))
    assert (status, payload["error_code"]) == (413, 3003) and str(limit) in payload["error_msg"]
    assert seconds < 5
    chunk = b"x" * 262144
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 32  # 8 MiB, no Content-Length
    status, payload, _ = _raw(port, _head(None, key=KEY, chunked=True), [*chunks, b"0\r\n\r\n"])
    assert (status, payload["error_code"]) == (413, 3003)


def test_without_a_key_an_invalid_body_is_an_auth_error(served):
    client, _, _ = served
    for body in ("{not json", {"query": 5}, {}):
        assert _is_error(_post(client, body, headers=None), 401, 1001)
    assert _is_error(_post(client, {"query": 5}, headers={"Authorization": "Bearer nope"}), 403, 1002)


def test_the_body_limit_is_configurable(sample_kb, tmp_path):
    kb, _ = sample_kb
    body = {"knowledge_id": "default", "query": "pump " * 200, "retrieval_setting": SETTING}
    config = tmp_path / "kbbuild.toml"
    config.write_text("[serve]\nmax_body_bytes = 512\n", encoding="utf-8")
    settings = load_settings(config)
    settings.ingest.progress = False
    with running(create_app(kb, settings, KEY)) as client:
        assert _is_error(_post(client, body), 413, 3003).endswith("the limit is 512 bytes.")
        body["query"] = "pump"
        assert _post(client, body).status_code == 200
    config.write_text("[serve]\nmax_body_bytes = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_body_bytes"):
        load_settings(config)


# -- 2. no unhandled 500s: bad input is 3001/3002, anything else 5001, all JSON -----------------


@pytest.mark.parametrize(
    "condition",
    [
        {"name": [], "comparison_operator": "is", "value": "a.pdf"},
        {"name": ["source", "page"], "comparison_operator": "is", "value": "a.pdf"},
        {"name": "source", "comparison_operator": "contains", "value": ["a", "b"]},
        {"name": "source", "comparison_operator": "in", "value": []},
        {"name": "page", "comparison_operator": "=", "value": "NaN"},
        {"name": "n_tokens", "comparison_operator": ">", "value": 10**400},
        {"name": "page", "comparison_operator": "<", "value": "1e400"},
    ],
)
def test_malformed_conditions_are_3002(served, condition):
    client, _, _ = served
    message = _is_error(_post(client, _condition(conditions=[condition])), 400, 3002)
    assert not any(word in message for word in INTERNALS), message


def test_lone_surrogates_are_3001(served):
    client, _, _ = served
    valid = {"knowledge_id": "default", "query": "pump", "retrieval_setting": SETTING}
    contains = {"name": "source", "comparison_operator": "contains", "value": "\ud83d"}
    for body in (
        valid | {"query": "\ud800"},
        valid | {"knowledge_id": "def\udfffault"},
        valid | {"metadata_condition": {"conditions": [contains]}},
    ):
        # json.dumps writes a lone surrogate as the escape "\\ud800", as a careless client would.
        assert "surrogate" in _is_error(_post(client, json.dumps(body)), 400, 3001)


def test_other_bad_requests_are_json_errors(served):
    client, _, _ = served
    _is_error(_post(client, b'{"query": "\xff\xfe"}'), 400, 3001)  # not UTF-8
    _is_error(client.get("/nowhere", headers=AUTH), 404, 4004)
    _is_error(client.get("/retrieval", headers=AUTH), 405, 4005)


class _Broken:
    """A searcher that fails the way a KB on a bad day does: with the folder in the message."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def search_configured(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize(
    ("kind", "text", "status", "code"),
    [
        (RuntimeError, "lance error: IO error at {kb}/lancedb/chunks.lance", 500, 5001),
        (KBError, "the KB at {kb} was built with another model", 500, 5001),
        (KBError, "invalid filter 'page_start <= 3': lance error at {kb}", 400, 3002),
    ],
)
def test_unexpected_failures_are_json_without_internals(sample_kb, monkeypatch, kind, text, status, code):
    kb, _ = sample_kb
    error = kind(text.format(kb=kb))
    monkeypatch.setattr(serve_app._Searchers, "get", lambda self, knowledge_id: _Broken(error))
    with running(create_app(kb, quiet(), KEY)) as client:
        body = {"knowledge_id": "default", "query": "pump", "retrieval_setting": SETTING}
        message = _is_error(_post(client, body), status, code)
    assert str(kb) not in message and not any(word in message for word in INTERNALS), message


# -- 3. /health without details, messages without paths, LIKE wildcards escaped ----------------


def test_health_is_liveness_only_without_a_valid_key(served):
    client, _, _ = served
    assert client.get("/health").json() == {"status": "ok", "ready": True}
    assert client.get("/health", headers={"Authorization": "Bearer nope"}).json() == {"status": "ok", "ready": True}
    detailed = client.get("/health", headers=AUTH).json()
    assert detailed["collections"] == {"default": 1} and detailed["auth"] is True


@pytest.mark.parametrize(
    ("knowledge_id", "expected"),
    [
        ("legal", "no collection 'legal'"),
        ("default@release-9", "collection 'default' has no version or tag 'release-9'"),
        ("default@99", "collection 'default' has no version or tag '99'"),
        ("../etc", "no collection '../etc'"),
    ],
)
def test_unknown_knowledge_does_not_reveal_the_kb_folder(served, knowledge_id, expected):
    client, _, kb = served
    message = _is_error(
        _post(client, {"knowledge_id": knowledge_id, "query": "x", "retrieval_setting": SETTING}), 404, 2001
    )
    assert expected in message and str(kb.parent) not in message


def _sources(client, **condition) -> set[str]:
    response = _post(client, _condition(conditions=[condition]) | {"retrieval_setting": {"top_k": 50}})
    assert response.status_code == 200, response.text
    return {r["metadata"]["source"] for r in response.json()["records"]}


def test_like_wildcards_in_values_match_literally_over_http(served):
    client, _, _ = served
    assert _sources(client, name="source", comparison_operator="contains", value="harbor") >= {
        "harbor_q3_2026_results.pdf"
    }
    assert _sources(client, name="source", comparison_operator="contains", value="q3%2026") == set()
    assert _sources(client, name="source", comparison_operator="start with", value="harbor%results") == set()
    assert _sources(client, name="source", comparison_operator="end with", value="%") == set()
    assert _sources(client, name="source", comparison_operator="contains", value="q3_2026") == {
        "harbor_q3_2026_results.pdf"
    }
    assert _sources(client, name="source", comparison_operator="start with", value="harbor_q") == {
        "harbor_q3_2026_results.pdf"
    }
    assert _sources(client, name="heading_path", comparison_operator="contains", value="%") == set()
    everything = _sources(client, name="source", comparison_operator="not empty")
    assert _sources(client, name="source", comparison_operator="not contains", value="%") == everything


def test_like_wildcards_match_literally_in_lancedb(tmp_path):
    rows = {
        "source": ["100%_done.pdf", "100x_done.pdf", "100%xdone.pdf", "back\\slash.pdf", "it's.pdf", "plain.pdf"],
        "heading_path": [["Rates", "A 50%"], ["Rates", "A 50x"], ["B_c"], ["Bxc"], [], ["C"]],
    }
    table = lancedb.connect(tmp_path).create_table("chunks", pa.table(rows))

    def matching(field: str, op: str, value: str) -> set[str]:
        condition = {"conditions": [{"name": field, "comparison_operator": op, "value": value}]}
        where = metadata_sql(MetadataCondition.model_validate(condition))
        return {r["source"] for r in table.search().where(where).limit(100).to_list()}

    assert matching("source", "contains", "%") == {"100%_done.pdf", "100%xdone.pdf"}
    assert matching("source", "contains", "%_") == {"100%_done.pdf"}
    assert matching("source", "start with", "100_") == set()
    assert matching("source", "end with", "x_done.pdf") == {"100x_done.pdf"}
    assert matching("source", "not contains", "%") == {"100x_done.pdf", "back\\slash.pdf", "it's.pdf", "plain.pdf"}
    assert matching("source", "contains", "\\") == {"back\\slash.pdf"}
    assert matching("source", "contains", "'s") == {"it's.pdf"}
    assert matching("heading_path", "contains", "50%") == {"100%_done.pdf"}
    assert matching("heading_path", "contains", "B_c") == {"100%xdone.pdf"}
    assert matching("heading_path", "not contains", "%") == {
        "100x_done.pdf",
        "100%xdone.pdf",
        "back\\slash.pdf",
        "it's.pdf",
        "plain.pdf",
    }
