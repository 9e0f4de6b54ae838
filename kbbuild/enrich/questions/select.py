"""From raw candidates to ``questions`` table rows: every candidate of a chunk is judged (Doc2Query--
filter, best ``n`` kept) and stored with its verdict, so that the filter can be audited and a chunk
whose text did not change is never sent to the generator again, even when nothing of it was kept."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from kbbuild.enrich.questions.filtering import judge_questions
from kbbuild.providers import Embedder
from kbbuild.records import Chunk, QuestionRow
from kbbuild.text.segment import search_text


@dataclass(frozen=True)
class StoredQuestion:
    chunk: Chunk
    text: str
    score: float
    dropped: str  # "" = kept
    vector: tuple[float, ...] | None = None  # known when reused from the previous version

    @property
    def kept(self) -> bool:
        return not self.dropped


@dataclass(frozen=True)
class CachedQuestion:
    text: str
    score: float
    dropped: str
    vector: tuple[float, ...]


@dataclass
class AskedQuestions:
    generator: str
    judged: list[StoredQuestion] = field(default_factory=list)
    generated: int = 0
    failures: int = 0
    reused: int = 0

    @property
    def kept(self) -> int:
        return sum(q.kept for q in self.judged)


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
        for q in judge_questions(embedder, chunk.text, candidates, min_score, n):
            asked.judged.append(StoredQuestion(chunk, q.text, q.score, q.dropped))
    return asked


def reuse(chunk: Chunk, cached: Sequence[CachedQuestion]) -> list[StoredQuestion]:
    return [StoredQuestion(chunk, q.text, q.score, q.dropped, q.vector) for q in cached]


def question_id(chunk_id: str, text: str) -> str:
    return hashlib.sha256(f"{chunk_id}\x00{text}".encode()).hexdigest()[:32]


def question_rows(judged: Sequence[StoredQuestion], vectors, generator: str, kb_version: int) -> list[QuestionRow]:
    return [
        QuestionRow(
            id=question_id(q.chunk.id, q.text),
            chunk_id=q.chunk.id,
            source=q.chunk.source,
            text=q.text,
            score=q.score,
            kept=q.kept,
            dropped=q.dropped,
            generator=generator,
            search_text=search_text(q.text),
            kb_version=kb_version,
            vector=[float(v) for v in vector],
        )
        for q, vector in zip(judged, vectors, strict=True)
    ]
