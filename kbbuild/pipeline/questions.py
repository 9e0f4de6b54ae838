"""The question stage: owns the question generator and the cache of questions of the previous
version, and asks for synthetic questions (doc2query) for each file's new chunks.

A chunk whose text did not change keeps its id, and then its questions, without asking the
generator again: the cache is filled from the previous version's questions table for the files
this run processes again.

Generation is the slowest stage when it is on (seconds per chunk on a CPU), so it runs on a thread
of its own: the driver hands a file's chunks over (``submit``) and goes on with the next files while
the generator works, and takes files back in plan order as their questions are done (``ready``).
llama.cpp and HTTP clients release the GIL while they work, so parsing, embedding and writing go on
meanwhile. At most ``MAX_AHEAD_CHUNKS`` chunks wait for questions; beyond that the driver waits,
so memory stays bounded however slow the generator is.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from kbbuild.config import Settings
from kbbuild.enrich.questions.prompts import language
from kbbuild.enrich.questions.select import AskedQuestions, CachedQuestion, reuse, select_questions
from kbbuild.errors import ConfigError
from kbbuild.plugins import Registry
from kbbuild.providers import Embedder, Questioner
from kbbuild.records import Chunk, Manifest
from kbbuild.store.kb import KB, pinned_table
from kbbuild.store.schema import QUESTIONS_TABLE

_LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
MAX_AHEAD_CHUNKS = 2_000  # chunks handed to the generator and not yet taken back
MAX_AHEAD_FILES = 256
SLICE = 4  # chunks per call to the generator: the progress bar moves this often

Item = TypeVar("Item")


class _Orders(Generic[Item]):
    """Files handed to the generator thread, in plan order, with what the caller wants back."""

    def __init__(self) -> None:
        self.queue: deque[tuple[Item, Future, int]] = deque()
        self.chunks = 0

    def add(self, item: Item, future: Future, chunks: int) -> None:
        self.queue.append((item, future, chunks))
        self.chunks += chunks

    def pop(self) -> tuple[Item, AskedQuestions | BaseException]:
        item, future, chunks = self.queue.popleft()
        self.chunks -= chunks
        error = future.exception()
        return item, error if error is not None else future.result()


class QuestionStage:
    def __init__(self, registry: Registry, settings: Settings) -> None:
        self.settings = settings.questions
        self.questioner: Questioner | None = None
        self.label = ""
        self.cache: dict[str, list[CachedQuestion]] = {}
        self._registry = registry
        self._all_settings = settings
        self.not_asked: dict[str, int] = {}  # language -> chunks the generator cannot write questions for
        self.judged: dict[str, list[int]] = {}  # language -> [candidates judged, kept] (new ones only)
        self.seconds = 0.0  # spent on the generator thread
        self.sent = 0  # chunks sent to the generator in this run
        self.over_limit = 0  # chunks left without questions by [questions] max_chunks
        self.on_queued: Callable[[int], None] = lambda _chunks: None  # progress: chunks sent to the model
        self.on_done: Callable[[int], None] = lambda _chunks: None
        self._thread: ThreadPoolExecutor | None = None
        self._orders: _Orders = _Orders()

    @property
    def active(self) -> bool:
        return self.questioner is not None

    def submit(self, item: Item, chunks: list[Chunk], embedder: Embedder) -> Iterator[tuple[Item, object]]:
        """Hand a file's chunks to the generator thread; yields the files (``item``, then their
        ``AskedQuestions`` or the exception asking raised) that are done, in plan order, waiting for
        the oldest ones while too many are out."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="questions")
        cached, todo = self._select(chunks)
        self.on_queued(len(todo))
        self._orders.add(item, self._thread.submit(self._timed_ask, cached, todo, embedder), len(chunks))
        while self._orders.queue and (
            self._orders.queue[0][1].done()
            or self._orders.chunks > MAX_AHEAD_CHUNKS
            or len(self._orders.queue) > MAX_AHEAD_FILES
        ):
            yield self._orders.pop()

    def drain(self) -> Iterator[tuple[Item, object]]:
        """Every file still out, in plan order, as its questions are done."""
        while self._orders.queue:
            yield self._orders.pop()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._thread = None

    def _timed_ask(self, cached: list[Chunk], todo: list[Chunk], embedder: Embedder) -> AskedQuestions:
        started = time.perf_counter()
        try:
            return self._ask(cached, todo, embedder)
        finally:
            self.seconds += time.perf_counter() - started

    def kept_note(self) -> str | None:
        """The Doc2Query-- filter's verdicts of this run per chunk language: the share of candidates
        kept shows whether the generator writes usable questions in each language."""
        if not self.judged:
            return None
        shares = ", ".join(
            f"{_LANGUAGE_NAMES.get(lang, lang)} {kept / judged:.0%} ({kept} of {judged})"
            for lang, (judged, kept) in sorted(self.judged.items())
            if judged
        )
        return f"questions kept by the filter, per chunk language: {shares}"

    def limit_note(self) -> str | None:
        if not self.over_limit:
            return None
        return (
            f"questions: {self.over_limit} chunks got none, over this run's limit of {self.settings.max_chunks} "
            "chunks ([questions] max_chunks); they are asked when their file changes or with --full"
        )

    def note(self) -> str | None:
        """What the run's notes say about chunks left without questions because of their language."""
        if not self.not_asked or self.questioner is None:
            return None
        names = _LANGUAGE_NAMES
        counts = ", ".join(f"{count} {names.get(lang, lang)}" for lang, count in sorted(self.not_asked.items()))
        writes = ", ".join(_LANGUAGE_NAMES.get(lang, lang) for lang in sorted(self.questioner.languages or ()))
        return (
            f"questions: {counts} chunks were not sent to {self.label}, which writes {writes} questions only "
            '(set [questions] model_zh = "gemma3" for Chinese, or model to one that writes their language)'
        )

    def start(self) -> None:
        """Load the configured generator, or refuse the run with the reason it cannot."""
        options = self.settings
        if not options.generator:
            return
        provider = self._registry.named("question_generators", options.generator)
        why = provider.unavailable_reason(self._all_settings)
        if why:
            raise ConfigError(f"question generator '{options.generator}' cannot run: {why}")
        self.questioner = provider.load(self._all_settings)
        self.label = f"{options.generator}:{options.model}" + (f"+zh:{options.model_zh}" if options.model_zh else "")

    def load_cache(self, kb: KB, previous: Manifest, sources: set[str]) -> None:
        if self.questioner is None or QUESTIONS_TABLE not in previous.table_versions or not sources:
            return
        table = pinned_table(kb.connect(), QUESTIONS_TABLE, previous)
        rows = table.search().select(["chunk_id", "source", "text", "score", "dropped", "generator", "vector"])
        for row in rows.limit(table.count_rows()).to_list():
            if row["source"] in sources and row["generator"] == self.label:
                cached = CachedQuestion(row["text"], float(row["score"]), row["dropped"], tuple(row["vector"]))
                self.cache.setdefault(row["chunk_id"], []).append(cached)

    def _select(self, chunks: list[Chunk]) -> tuple[list[Chunk], list[Chunk]]:
        """(chunks with questions from the previous version, chunks to send to the generator): not
        those in a language it cannot write, nor those over the run's ``max_chunks``. Runs on the
        driver's thread, in plan order, so the same chunks are chosen whatever the timing."""
        cached = [c for c in chunks if c.id in self.cache]
        todo = [c for c in chunks if c.id not in self.cache]
        languages = self.questioner.languages if self.questioner is not None else None
        if languages is not None:
            for chunk in todo:
                lang = language(chunk.text)
                if lang not in languages:
                    self.not_asked[lang] = self.not_asked.get(lang, 0) + 1
            todo = [c for c in todo if language(c.text) in languages]
        if self.settings.max_chunks is not None:
            room = max(self.settings.max_chunks - self.sent, 0)
            self.over_limit += max(len(todo) - room, 0)
            todo = todo[:room]
        self.sent += len(todo)
        return cached, todo

    def _ask(self, cached: list[Chunk], todo: list[Chunk], embedder: Embedder) -> AskedQuestions:
        """Synthetic questions for ``todo``, filtered (Doc2Query--), and the cached ones reused."""
        options = self.settings
        before = self.questioner.failures
        raw: list[list[str]] = []
        step = max(SLICE, options.concurrency)  # an endpoint keeps its requests in flight
        for start in range(0, len(todo), step):
            texts = [c.text for c in todo[start : start + step]]
            raw.extend(self.questioner.questions(texts, options.candidates))
            self.on_done(len(texts))
        failures = self.questioner.failures - before
        asked = select_questions(todo, raw, embedder, options.n, options.min_score, self.label, failures)
        languages_of = {chunk.id: language(chunk.text) for chunk in todo}
        for question in asked.judged:
            tally = self.judged.setdefault(languages_of[question.chunk.id], [0, 0])
            tally[0] += 1
            tally[1] += question.kept
        for chunk in cached:
            asked.judged.extend(reuse(chunk, self.cache[chunk.id]))
        asked.reused = len(cached)
        return asked
