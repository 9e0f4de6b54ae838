"""The OpenAI-compatible backend against a real HTTP server on localhost that scripts its replies:
retries on 429/503, a timeout, malformed JSON, bounded concurrency, Chinese prompts for Chinese."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kbbuild.enrich.questions.openai_compat import OpenAIQuestions, parse_reply


class _Script:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.active = 0
        self.max_active = 0
        self.prompts: list[str] = []


def _server(script: _Script):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body["messages"][-1]["content"]
            passage = prompt.split("\n\n", 1)[1]
            # A timed-out request lingers here after the client gave up on it: not counted as active.
            counted = not passage.startswith("slow")
            with script.lock:
                script.calls[passage] = script.calls.get(passage, 0) + 1
                attempt = script.calls[passage]
                script.active += counted
                script.max_active = max(script.max_active, script.active)
                script.prompts.append(prompt)
            try:
                time.sleep(0.2)
                if passage.startswith("busy") and attempt == 1:
                    return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
                if passage.startswith("flaky") and attempt < 3:
                    return self._send(503, {"error": {"message": "overloaded"}})
                if passage.startswith("slow"):
                    time.sleep(2.0)
                content = (
                    "Sure! Here are some questions: what, why?"
                    if passage.startswith("chatty")
                    else json.dumps({"questions": [f"What does '{passage[:12]}' say?", "Why does it matter?"]})
                )
                self._send(200, _completion(content))
            except BrokenPipeError:  # the client timed out and left
                return
            finally:
                with script.lock:
                    script.active -= counted

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _completion(content: str) -> dict:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
    }


@pytest.fixture()
def endpoint():
    script = _Script()
    server = _server(script)
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    server.shutdown()


def test_retries_timeouts_malformed_replies_and_bounded_concurrency(endpoint):
    url, script = endpoint
    client = OpenAIQuestions(url, "scripted", "", concurrency=2, timeout=1.0, max_retries=2)
    passages = ["busy passage", "flaky passage", "slow passage", "chatty passage", "plain passage one", "plain two"]
    answers = client.questions(passages, n=3)
    assert answers[0] == ["What does 'busy passage' say?", "Why does it matter?"]  # after a 429
    assert answers[1][0].startswith("What does 'flaky passag")  # after two 503s
    assert answers[2] == [] and answers[3] == []  # timed out; not JSON
    assert answers[4] and answers[5]
    assert script.calls["busy passage"] == 2 and script.calls["flaky passage"] == 3
    assert script.calls["slow passage"] == 3  # the timeout is retried too, then given up
    assert script.max_active <= 2
    assert client.stats.requests_failed == 2 and len(client.stats.errors) == 2


def test_a_chinese_passage_is_asked_for_chinese_questions(endpoint):
    url, script = endpoint
    OpenAIQuestions(url, "scripted", "", concurrency=1).questions(["员工出差优先乘坐高铁或动车。"], n=2)
    assert script.prompts[0].startswith("针对下面的段落写 2 个不同的中文问题")


def test_replies_must_be_exactly_a_questions_object():
    assert parse_reply('```json\n{"questions": ["A?", " ", "B?"]}\n```') == ["A?", "B?"]
    for bad in ('["A?"]', '{"questions": "A?"}', '{"questions": ["A?"], "extra": 1}', "A? B?"):
        with pytest.raises(ValueError):
            parse_reply(bad)


def test_ingest_with_an_openai_compatible_endpoint(endpoint, tmp_path, cli):
    """The whole path through the CLI: config names the endpoint, questions are stored and searched."""
    import shutil

    import lancedb

    from .conftest import SAMPLES

    url, script = endpoint
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "harbor_q3_2026_results.pdf", docs)
    config = tmp_path / "kbbuild.toml"
    config.write_text(f'[questions]\ngenerator = "openai"\nbase_url = "{url}"\nmodel = "scripted"\nmin_score = -1\n')
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--config", config, "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)["counts"]
    chunks = counts["chunks_total"]
    assert counts["questions_generated"] == 2 * chunks and counts["question_failures"] == 0
    assert len(script.calls) == chunks  # one request per chunk
    rows = lancedb.connect(str(tmp_path / "kb" / "lancedb")).open_table("questions").search().limit(100).to_list()
    assert {r["generator"] for r in rows} == {"openai:scripted"} and any(r["kept"] for r in rows)
