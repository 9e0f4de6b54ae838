"""From raw candidates to stored questions: filter each chunk's candidates (Doc2Query--), keep the
best ``n`` by score, and turn them into ``questions`` table rows."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from kbbuild.enrich.questions.filtering import filter_questions
from kbbuild.providers import Embedder
from kbbuild.records import Chunk, QuestionRow


@dataclass(frozen=True)
class KeptQuestion:
    chunk: Chunk
    text: str
    score: float


@dataclass
class AskedQuestions:
    generator: str
    kept: list[KeptQuestion] = field(default_factory=list)
    generated: int = 0
    failures: int = 0


def select_questions(
    chunks: Sequence[Chunk],
    raw: Sequence[Sequence[str]],
    embedder: Embedder,
    n: int,
    min_score: float,
    generator: str,
    failures: int = 0,
) -> AskedQuestions:
    asked = AskedQuestions(generator, generated=sum(len(r) for r in raw), failures=failures)
    for chunk, candidates in zip(chunks, raw, strict=True):
        scored = filter_questions(embedder, chunk.text, candidates, min_score)
        best = sorted(scored, key=lambda q: -q.score)[:n]
        asked.kept.extend(KeptQuestion(chunk, q.text, q.score) for q in best)
    return asked


def question_id(chunk_id: str, text: str) -> str:
    return hashlib.sha256(f"{chunk_id}\x00{text}".encode()).hexdigest()[:32]


def question_rows(kept: Sequence[KeptQuestion], vectors, generator: str, kb_version: int) -> list[QuestionRow]:
    return [
        QuestionRow(
            id=question_id(q.chunk.id, q.text),
            chunk_id=q.chunk.id,
            source=q.chunk.source,
            text=q.text,
            score=q.score,
            generator=generator,
            kb_version=kb_version,
            vector=[float(v) for v in vector],
        )
        for q, vector in zip(kept, vectors, strict=True)
    ]
