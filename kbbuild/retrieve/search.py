"""Hybrid retrieval over one KB version: several ranked lists, fused, optionally reranked.

Lists: the chunks by embedding (``vector``) and by words (``fts``, BM25 on ``search_text``), and, when
the KB has synthetic questions, the same two searches over the questions, each question standing for
its chunk (doc2query) and folded into its chunk's list. The two lists are then fused
(``retrieve.fusion``): by default by reciprocal rank (RRF, k 60), which uses ranks alone and so is
not misled by BM25 scores that stand out for a long question's common words, nor by an embedder
whose similarities all sit within a few hundredths; DBSF (scores scaled by each list's spread) is
the alternative (both measured in bench/fusion.py). A list whose model cannot read the query (an
English-only model, a Chinese query) does not vote. A cross-encoder may then reorder the
best candidates.
Filters are SQL over the chunk columns, applied before the nearest-neighbour search (prefilter), so
asking for ``source LIKE '%2024%'`` never returns fewer hits just because better ones were elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kbbuild.config import IndexSettings, QuerySettings
from kbbuild.errors import KBError
from kbbuild.records import AlsoIn, Manifest, Match, SearchHit
from kbbuild.retrieve.fusion import RankedList, fuse
from kbbuild.store.indexes import FTS_COLUMN, vector_index
from kbbuild.store.kb import pinned_table
from kbbuild.store.schema import CHUNKS_TABLE, QUESTIONS_TABLE
from kbbuild.text.segment import is_mostly_cjk, search_text

CHUNK_COLUMNS = ["id", "source", "pages", "heading_path", "text", "vector"]
OPTIONAL_COLUMNS = ["document"]  # absent from versions written before it existed
Modes = ("vector", "fts", "hybrid")


@dataclass
class _Candidate:
    row: dict
    matches: list[Match] = field(default_factory=list)
    question: str | None = None
    fused: float = 0.0


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _both(a: str | None, b: str | None) -> str | None:
    parts = [f"({p})" for p in (a, b) if p]
    return " AND ".join(parts) or None


def page_filter(first: int | None, last: int | None) -> str | None:
    """Chunks that touch the page range (1-based PDF page indices, inclusive)."""
    parts = []
    if first is not None:
        parts.append(f"page_end >= {int(first)}")
    if last is not None:
        parts.append(f"page_start <= {int(last)}")
    return " AND ".join(parts) or None


class Searcher:
    """Searches one KB version. Open once, query many times (the service keeps one per version)."""

    def __init__(
        self,
        db,
        manifest: Manifest,
        embed_query: Callable[[str], np.ndarray],
        index: IndexSettings | None = None,
        english_only: bool = False,
    ) -> None:
        self.manifest = manifest
        self.english_only = english_only  # the KB's model reads English alone (all-MiniLM-L6-v2)
        self.embed_query = embed_query
        self.index = index or IndexSettings()
        self.chunks = pinned_table(db, CHUNKS_TABLE, manifest)
        names = set(self.chunks.schema.names)
        self.chunk_columns = CHUNK_COLUMNS + [name for name in OPTIONAL_COLUMNS if name in names]
        self.questions = None
        if QUESTIONS_TABLE in manifest.table_versions:
            self.questions = pinned_table(db, QUESTIONS_TABLE, manifest)
        columns = set(self.chunks.schema.names)
        self.has_fts = FTS_COLUMN in columns
        self.ann = {
            name
            for name, table in (("chunks", self.chunks), ("questions", self.questions))
            if table and vector_index(table)
        }
        self.also_in: dict[str, list[AlsoIn]] = {}
        for record in manifest.files:
            for link in record.duplicates:
                self.also_in.setdefault(link.duplicate_of, []).append(
                    AlsoIn(source=record.relpath, pages=link.pages, near=link.near)
                )

    def lists_for(self, mode: str, questions: bool, text: str = "") -> list[str]:
        """The ranked lists a query in ``mode`` runs: the chunk lists, their question lists when the KB
        has them, less the vector lists when the KB's model cannot read the query ``text``."""
        if mode not in Modes:
            raise KBError(f"unknown search mode '{mode}' (use vector, fts or hybrid)")
        if mode in ("fts", "hybrid") and not self.has_fts:
            raise KBError(
                f"KB version {self.manifest.kb_version} has no full-text index (it was built by an older "
                "kbbuild); re-ingest to add one, or use --mode vector"
            )
        lists = ["vector"] if mode == "vector" else ["fts"] if mode == "fts" else ["vector", "fts"]
        if questions and self.questions is not None:
            lists += [f"question-{name}" for name in list(lists)]
        if mode == "hybrid" and self.english_only and is_mostly_cjk(text):
            # The model cannot read the query: its list would be noise with a vote (all-MiniLM-L6-v2 gives
            # unrelated Chinese chunks 0.75-0.90), so the words decide alone.
            lists = [name for name in lists if not name.endswith("vector")]
        return lists

    def search_configured(
        self, text: str, k: int, query: QuerySettings, *, where: str | None = None, rerank=None
    ) -> list[SearchHit]:
        """``search`` with the choices of a ``[query]`` section: what every served endpoint (Dify,
        OpenAI, MCP) runs, so that they rank alike."""
        return self.search(
            text,
            k=k,
            mode=query.mode,
            where=where,
            questions=query.questions,
            candidates=query.candidates,
            rrf_k=query.rrf_k,
            fusion=query.fusion,
            rerank=rerank,
            rerank_candidates=query.rerank_candidates,
        )

    def search(
        self,
        text: str,
        *,
        k: int,
        mode: str = "hybrid",
        where: str | None = None,
        questions: bool = True,
        candidates: int = 50,
        rrf_k: int = 60,
        rerank: Callable[[str, list[str]], list[float]] | None = None,
        rerank_candidates: int = 30,
        fusion: str = "rrf",
    ) -> list[SearchHit]:
        if not text.strip():
            raise KBError("the query is empty")
        lists = self.lists_for(mode, questions, text)
        if where:
            self.check_filter(where)
        vector = self.embed_query(text) if any(name.endswith("vector") for name in lists) else None
        words = search_text(text)
        limit = max(candidates, k)
        found: dict[str, _Candidate] = {}
        ranked_lists: dict[str, RankedList] = {}
        for name in lists:
            ranked = self._run(name, vector, words, where, limit)
            ranked_lists[name] = [(chunk_id, score) for chunk_id, score, _, _ in ranked]
            for rank, (chunk_id, score, row, question) in enumerate(ranked, start=1):
                candidate = found.setdefault(chunk_id, _Candidate(row=row))
                if row is not None and candidate.row is None:
                    candidate.row = row
                candidate.matches.append(Match(via=name, rank=rank, score=round(score, 6)))
                if question and candidate.question is None:
                    candidate.question = question
        for chunk_id, score in fuse(ranked_lists, fusion, rrf_k):
            found[chunk_id].fused = score
        self._load_rows(found, where)
        found = {cid: c for cid, c in found.items() if c.row is not None}
        if vector is None:
            vector = self.embed_query(text)

        def order_key(candidate: _Candidate) -> float:
            return candidate.fused

        ordered = sorted(found.values(), key=lambda c: (-order_key(c), c.row["id"]))
        rerank_scores: dict[str, float] = {}
        if rerank is not None and ordered:
            pool = ordered[: max(rerank_candidates, k)]
            passages = [_passage(c.row) for c in pool]
            for candidate, score in zip(pool, rerank(text, passages), strict=True):
                rerank_scores[candidate.row["id"]] = float(score)
            ordered = sorted(pool, key=lambda c: (-rerank_scores[c.row["id"]], c.row["id"]))
        hits = []
        for rank, candidate in enumerate(ordered[:k], start=1):
            row = candidate.row
            chunk_id = row["id"]
            score = rerank_scores.get(chunk_id, order_key(candidate))
            hits.append(
                SearchHit(
                    rank=rank,
                    score=round(float(score), 6),
                    similarity=round(_cosine(vector, row["vector"]), 6),
                    chunk_id=chunk_id,
                    source=row["source"],
                    pages=list(row["pages"] or []),
                    heading_path=list(row["heading_path"] or []),
                    document=row.get("document") or "",
                    text=row["text"],
                    kb_version=self.manifest.kb_version,
                    matched_by=candidate.matches,
                    rerank_score=round(rerank_scores[chunk_id], 6) if chunk_id in rerank_scores else None,
                    also_in=self.also_in.get(chunk_id, []),
                    matched_question=candidate.question,
                )
            )
        return hits

    # -- the result lists ----------------------------------------------------------------------
    def _run(self, name: str, vector, words: str, where: str | None, limit: int) -> list[tuple]:
        """(chunk id, score, chunk row or None, question text or None), best first, one per chunk."""
        if name == "vector":
            query = self._nearest(self.chunks, "chunks", vector)
            rows = self._fetch(query, where, [*self.chunk_columns, "_distance"], limit)
            return [(r["id"], 1.0 - float(r["_distance"]), r, None) for r in rows]
        if name == "fts":
            if not words:
                return []
            query = self.chunks.search(words, query_type="fts", fts_columns=FTS_COLUMN)
            rows = self._fetch(query, where, [*self.chunk_columns, "_score"], limit)
            return [(r["id"], float(r["_score"]), r, None) for r in rows]
        # A question list: more questions than chunks are fetched, several may share a chunk.
        if name == "question-vector":
            query = self._nearest(self.questions, "questions", vector)
            rows = self._fetch(query, "kept", ["chunk_id", "text", "_distance"], limit * 3)
            scored = [(r, 1.0 - float(r["_distance"])) for r in rows]
        else:
            if not words:
                return []
            query = self.questions.search(words, query_type="fts", fts_columns=FTS_COLUMN)
            rows = self._fetch(query, "kept", ["chunk_id", "text", "_score"], limit * 3)
            scored = [(r, float(r["_score"])) for r in rows]
        best: dict[str, tuple] = {}
        for row, score in scored:
            if row["chunk_id"] not in best:
                best[row["chunk_id"]] = (row["chunk_id"], score, None, row["text"])
        return list(best.values())[:limit]

    def _nearest(self, table, name: str, vector):
        query = table.search(vector.tolist(), vector_column_name="vector").distance_type("cosine")
        if name in self.ann:  # approximate: probe more partitions and re-score the best exactly
            query = query.nprobes(self.index.nprobes)
            if self.index.refine_factor:
                query = query.refine_factor(self.index.refine_factor)
        return query

    def check_filter(self, where: str) -> None:
        """Try the filter on its own first, so a typo is reported as the user's filter, not a crash.
        A filter is one expression: Lance's parser reads ``1=1; DROP TABLE chunks`` as ``1=1`` and
        drops the rest without a word, so a statement separator is refused here instead."""
        if _outside_quotes(where, ";"):
            raise KBError(f"invalid filter {where!r}: a filter is one expression; ';' is not allowed")
        try:
            self.chunks.search().where(where).select(["id"]).limit(1).to_list()
        except (ValueError, RuntimeError, OSError) as error:
            message = str(error).splitlines()[0]
            raise KBError(f"invalid filter {where!r}: {message}") from None

    def _fetch(self, query, where: str | None, columns: list[str], limit: int) -> list[dict]:
        if where:
            query = query.where(where, prefilter=True)
        return query.select(columns).limit(limit).to_list()

    def _load_rows(self, found: dict[str, _Candidate], where: str | None) -> None:
        """Chunk rows for hits that came from question lists only; the filter applies to them too."""
        missing = [cid for cid, candidate in found.items() if candidate.row is None]
        for start in range(0, len(missing), 500):
            ids = ", ".join(_quote(cid) for cid in missing[start : start + 500])
            condition = _both(f"id IN ({ids})", where)
            rows = self.chunks.search().where(condition).select(self.chunk_columns).limit(len(missing)).to_list()
            for row in rows:
                found[row["id"]].row = row


def _cosine(query: np.ndarray, vector) -> float:
    other = np.asarray(vector, dtype=np.float32)
    denominator = float(np.linalg.norm(query) * np.linalg.norm(other)) or 1.0
    return float(np.dot(query, other)) / denominator


def _outside_quotes(text: str, char: str) -> bool:
    """Whether ``char`` occurs in ``text`` outside SQL string literals ('...', with '' as a quote)."""
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif ch == char and not quoted:
            return True
    return False


def _passage(row: dict) -> str:
    """A chunk as the reranker reads it: whose document, where in it, then the text."""
    head = [row.get("document") or "", " > ".join(row["heading_path"] or [])]
    return "\n".join([*(line for line in head if line), row["text"]])
