"""Doc2Query-- filtering: generated questions are kept only when they are questions, new, not a
copy of the passage, and close to it in the KB's own embedding space.

Small generators hallucinate and echo; Gospodinov et al. (Doc2Query--, ECIR 2023) showed that
dropping the questions least relevant to their passage improves retrieval while shrinking the
index. Relevance here is the cosine between the question embedded as a query and the chunk embedded
as a document, with the same model the KB searches with, so a kept question is one the index
would actually match to its chunk. The score is kept with each question.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kbbuild.providers import Embedder
from kbbuild.text.lines import is_cjk

_QUESTION_WORD = re.compile(
    r"^(what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|should|"
    r"will|would|may|must|has|have|had)\b",
    re.IGNORECASE,
)
# Question words in Simplified and Traditional characters.
_CHINESE_QUESTION = re.compile(
    r"[吗嗎呢么麼几幾哪谁誰]|多少|如何|怎[样樣]|为何|為何|是否|何[時时者種种項项]|为什么|為什麼"
)
COPY_OVERLAP = 0.9  # share of a question's character 4-grams found in the chunk that makes it a copy
NEAR_SAME = 0.8  # 3-gram Jaccard at which two questions count as one


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _grams(text: str, size: int) -> set[str]:
    text = text.replace(" ", "")
    return {text[i : i + size] for i in range(max(len(text) - size + 1, 1))}


def looks_like_question(text: str) -> bool:
    text = text.strip()
    if "\ufffd" in text:  # a broken multi-byte sequence: the model lost its way
        return False
    chinese = sum(is_cjk(ch) for ch in text) > len(text) / 3
    if chinese:  # a Chinese question ends with a question mark and has a question word
        return len(text) >= 5 and text.endswith(("？", "?")) and bool(_CHINESE_QUESTION.search(text))
    return len(text.split()) >= 3 and (text.endswith("?") or bool(_QUESTION_WORD.match(text)))


def copies_passage(question: str, passage: str) -> bool:
    grams = _grams(_norm(question).rstrip("?？ "), 4)
    body = _norm(passage).replace(" ", "")
    return sum(gram in body for gram in grams) >= COPY_OVERLAP * len(grams)


@dataclass(frozen=True)
class JudgedQuestion:
    """A candidate with its score and, when it is dropped, why: every candidate is kept on record
    (the ``questions`` table), so the filter can be audited and a re-ingest need not ask again."""

    text: str
    score: float
    dropped: str = ""  # "" = kept; else "not a question", "copies the passage", "duplicate", ...

    @property
    def kept(self) -> bool:
        return not self.dropped


def _cheap_verdict(text: str, passage: str, seen: list[set[str]]) -> str:
    if not looks_like_question(text):
        return "not a question"
    if copies_passage(text, passage):
        return "copies the passage"
    grams = _grams(_norm(text), 3)
    if any(len(grams & other) >= NEAR_SAME * len(grams | other) for other in seen):
        return "duplicate"
    seen.append(grams)
    return ""


def score_questions(embedder: Embedder, passage: str, questions: Sequence[str]) -> list[float]:
    """Cosine of each question (as a query) with the passage (as a document), in the KB's model."""
    if not questions:
        return []
    chunk = np.asarray(embedder.embed_documents([passage]), dtype=np.float32)[0]
    asked = np.asarray(embedder.embed_queries(list(questions)), dtype=np.float32)
    chunk = chunk / (np.linalg.norm(chunk) or 1.0)
    asked = asked / np.clip(np.linalg.norm(asked, axis=1, keepdims=True), 1e-12, None)
    return [round(float(value), 4) for value in asked @ chunk]


def without_preamble(text: str) -> str:
    """The question after an exclamation a chat model opens with ("What a perceptive question! How
    often must …?" is kept as "How often must …?"; the exclamation would match any passage)."""
    if text.endswith(("?", "？")) and ("! " in text or "！" in text):
        return re.split(r"!\s+|！", text)[-1].strip()
    return text


def judge_questions(
    embedder: Embedder, passage: str, candidates: Sequence[str], min_score: float, n: int
) -> list[JudgedQuestion]:
    """Every non-empty candidate, scored; the best ``n`` that pass every test are kept."""
    texts = list(
        dict.fromkeys(without_preamble(" ".join(c.strip().strip("\"'").split())) for c in candidates if c.strip())
    )
    texts = [t for t in texts if t]
    seen: list[set[str]] = []
    verdicts = [_cheap_verdict(t, passage, seen) for t in texts]
    scores = score_questions(embedder, passage, texts)
    verdicts = [v or ("low score" if s < min_score else "") for v, s in zip(verdicts, scores, strict=True)]
    ranked = sorted((i for i, v in enumerate(verdicts) if not v), key=lambda i: -scores[i])
    for i in ranked[n:]:
        verdicts[i] = "beyond n"
    return [JudgedQuestion(t, s, v) for t, s, v in zip(texts, scores, verdicts, strict=True)]
