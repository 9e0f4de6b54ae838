"""Question generation through any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp
server). The official ``openai`` client does the transport: its retries back off exponentially on
429, 408, 409 and 5xx and honour ``Retry-After``; each request has a timeout. kbbuild adds a bound on
concurrent requests and strict validation of the reply: the prompt asks for a JSON object
``{"questions": [...]}``, and a reply that is not exactly that is a failed chunk, counted, never
guessed at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError

from kbbuild.enrich.questions.prompts import language

_SYSTEM = (
    "You write the questions a reader would ask that the given passage answers. Each question must be "
    "answerable from the passage alone, specific (name the thing it is about), and written in the "
    "passage's language. Reply with a JSON object and nothing else."
)
_USER = {
    "en": 'Write {n} different questions in English that this passage answers. Reply as {{"questions": [...]}}.',
    "zh": '针对下面的段落写 {n} 个不同的中文问题，每个问题都能由段落回答。用 {{"questions": [...]}} 的 JSON 格式回答。',
}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    questions: list[str]


def parse_reply(content: str) -> list[str]:
    """The questions of a strict ``{"questions": [str, ...]}`` reply (a Markdown code fence around
    it is tolerated); raises ValueError for anything else."""
    try:
        reply = _Reply.model_validate(json.loads(_FENCE.sub("", content.strip())))
    except (json.JSONDecodeError, ValidationError) as error:
        raise ValueError(f"reply is not {{'questions': [...]}}: {str(error)[:120]}") from error
    return [q.strip() for q in reply.questions if q.strip()]


@dataclass
class EndpointStats:
    requests_failed: int = 0
    errors: list[str] = field(default_factory=list)  # first few reasons, for the run summary


class OpenAIQuestions:
    """Calls one endpoint for many passages, ``concurrency`` at a time."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        *,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.3,
    ) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=max_retries)
        self.model = model
        self.concurrency = concurrency
        self.temperature = temperature
        self.stats = EndpointStats()

    def _ask(self, passage: str, n: int) -> list[str]:
        lang = language(passage)
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": _USER[lang].format(n=n) + "\n\n" + passage},
                ],
                temperature=self.temperature,
            )
            return parse_reply(response.choices[0].message.content or "")[:n]
        except Exception as error:  # one chunk's failure must not stop the batch: counted instead
            self.stats.requests_failed += 1
            if len(self.stats.errors) < 5:
                self.stats.errors.append(f"{type(error).__name__}: {str(error)[:160]}")
            return []

    def questions(self, passages: Sequence[str], n: int) -> list[list[str]]:
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(lambda passage: self._ask(passage, n), passages))
