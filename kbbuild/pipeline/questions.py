"""The question stage: owns the question generator and the cache of questions of the previous
version, and asks for synthetic questions (doc2query) for each file's new chunks.

A chunk whose text did not change keeps its id, and then its questions, without asking the
generator again: the cache is filled from the previous version's questions table for the files
this run processes again.
"""

from __future__ import annotations

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

    def ask(self, chunks: list[Chunk], embedder: Embedder) -> AskedQuestions:
        """Synthetic questions for the chunks, filtered (Doc2Query--), when a generator is configured."""
        if self.questioner is None or not chunks:
            return AskedQuestions(self.label)
        options = self.settings
        cached = [c for c in chunks if c.id in self.cache]
        todo = [c for c in chunks if c.id not in self.cache]
        languages = self.questioner.languages
        if languages is not None:
            for chunk in todo:
                lang = language(chunk.text)
                if lang not in languages:
                    self.not_asked[lang] = self.not_asked.get(lang, 0) + 1
            todo = [c for c in todo if language(c.text) in languages]
        before = self.questioner.failures
        raw = self.questioner.questions([c.text for c in todo], options.candidates) if todo else []
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
