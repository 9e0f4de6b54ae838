"""Fusing ranked lists into one: reciprocal rank fusion and score-based alternatives.

Each list is ``[(chunk id, score), ...]`` best first: cosine similarity for ``vector``, BM25 for
``fts``. A KB with synthetic questions has two more lists, whose hits stand for their chunks; they
are folded into the chunk lists first (``fold_questions``: a chunk's score is the better of its own
and its best question's), so that questions sharpen a list instead of voting twice.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

RankedList = list[tuple[str, float]]
Fused = list[tuple[str, float]]
Fusion = Callable[[dict[str, RankedList]], Fused]


def fold_questions(lists: dict[str, RankedList]) -> dict[str, RankedList]:
    """``vector`` and ``question-vector`` (and the two fts lists) as one list each, by best score."""
    folded: dict[str, RankedList] = {}
    for base in ("vector", "fts"):
        best: dict[str, float] = {}
        for name in (base, f"question-{base}"):
            for chunk_id, score in lists.get(name, []):
                best[chunk_id] = max(score, best.get(chunk_id, float("-inf")))
        if base in lists or f"question-{base}" in lists:
            folded[base] = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return folded


def _ordered(scores: dict[str, float]) -> Fused:
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def rrf(lists: dict[str, RankedList], k: int = 60, weights: dict[str, float] | None = None) -> Fused:
    """Reciprocal rank fusion: each list adds weight/(k + rank) to its chunks."""
    scores: dict[str, float] = {}
    for name, ranked in lists.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, (chunk_id, _) in enumerate(ranked, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (k + rank)
    return _ordered(scores)


def _minmax(ranked: RankedList) -> dict[str, float]:
    if not ranked:
        return {}
    values = [score for _, score in ranked]
    low, high = min(values), max(values)
    span = high - low
    return {chunk_id: (score - low) / span if span > 0 else 1.0 for chunk_id, score in ranked}


def convex(lists: dict[str, RankedList], vector_weight: float = 0.5) -> Fused:
    """A convex combination of min-max normalised scores (absent from a list: 0 there)."""
    weights = {"vector": vector_weight, "fts": 1.0 - vector_weight}
    scores: dict[str, float] = {}
    for name, ranked in lists.items():
        for chunk_id, value in _minmax(ranked).items():
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weights.get(name, 0.5) * value
    return _ordered(scores)


def dbsf(lists: dict[str, RankedList]) -> Fused:
    """Distribution-based score fusion: each list's scores scaled by its mean +- 3 standard
    deviations (clipped to 0..1), then summed."""
    scores: dict[str, float] = {}
    for ranked in lists.values():
        values = [score for _, score in ranked]
        if not values:
            continue
        mean = statistics.fmean(values)
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        low, high = mean - 3 * spread, mean + 3 * spread
        for chunk_id, score in ranked:
            value = (score - low) / (high - low) if high > low else 1.0
            scores[chunk_id] = scores.get(chunk_id, 0.0) + min(max(value, 0.0), 1.0)
    return _ordered(scores)


FUSIONS: dict[str, Fusion] = {
    "rrf": lambda lists: rrf(lists),
    "rrf-folded": lambda lists: rrf(fold_questions(lists)),
    "rrf-v0.3": lambda lists: rrf(fold_questions(lists), weights={"vector": 0.6, "fts": 1.4}),
    "rrf-v0.7": lambda lists: rrf(fold_questions(lists), weights={"vector": 1.4, "fts": 0.6}),
    "convex-0.3": lambda lists: convex(fold_questions(lists), 0.3),
    "convex-0.5": lambda lists: convex(fold_questions(lists), 0.5),
    "convex-0.7": lambda lists: convex(fold_questions(lists), 0.7),
    "dbsf": lambda lists: dbsf(fold_questions(lists)),
}


def fuse(lists: dict[str, RankedList], method: str = "rrf", rrf_k: int = 60) -> Fused:
    """The lists as one ranking: question lists folded into their chunk lists, then ``method`` when
    two lists remain ("rrf" or "dbsf"); a single list keeps its own scores and order."""
    folded = fold_questions(lists)
    if len(folded) == 1:
        return next(iter(folded.values()))
    if method == "dbsf":
        return dbsf(folded)
    if method == "rrf":
        return rrf(folded, k=rrf_k)
    raise ValueError(f"unknown fusion '{method}' (rrf or dbsf)")
