"""Embeddings through FlagEmbedding (BGE and any HF encoder), loaded once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kbbuild.embed.models import ResolvedModel
from kbbuild.errors import KBError
from kbbuild.providers import Embedder
from kbbuild.records import EmbeddingModelInfo

PROVIDER_NAME = "flagembedding"
_cache: dict[tuple[str, str, int], FlagEmbedder] = {}
_cache_lock = threading.Lock()


def pick_device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class FlagEmbedder(Embedder):
    def __init__(self, resolved: ResolvedModel, device: str, batch_size: int, max_length: int | None) -> None:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        card = resolved.card
        self._encode_lock = threading.Lock()
        self.batch_size = batch_size
        self.max_length = min(max_length or card.max_length, card.max_length)
        common: dict[str, Any] = dict(
            normalize_embeddings=card.normalize,
            use_fp16=device.startswith("cuda"),
            query_instruction_for_retrieval=card.query_instruction,
            devices=device,
            pooling_method=card.pooling,
            batch_size=batch_size,
            query_max_length=self.max_length,
            passage_max_length=self.max_length,
        )
        try:
            if card.family == "m3":
                from FlagEmbedding import BGEM3FlagModel

                self._model = BGEM3FlagModel(resolved.location, **common)
            else:
                from FlagEmbedding import FlagModel

                self._model = FlagModel(resolved.location, **common)
        except OSError as error:
            hint = (
                ""
                if resolved.is_local
                else (
                    " It is not in the local Hugging Face cache and the hub could not be reached;"
                    " download it once with internet access, or pass a local model folder to --embed-model."
                )
            )
            raise KBError(f"cannot load embedding model '{resolved.location}': {error}.{hint}") from None
        dim = int(self._encode(["dimension probe"], query=False).shape[1])
        self.info = EmbeddingModelInfo(
            name=card.name,
            provider=PROVIDER_NAME,
            location=resolved.location,
            dim=dim,
            normalize=card.normalize,
            pooling=card.pooling,
            max_length=self.max_length,
            query_instruction=card.query_instruction,
        )

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        # One encode at a time per model: a fast tokenizer used from two threads at once fails
        # ("Already borrowed"), and the query service answers requests on a thread pool.
        with self._encode_lock:
            return self._encode_unlocked(texts, query)

    def _encode_unlocked(self, texts: Sequence[str], query: bool) -> np.ndarray:
        # Sort by length so each batch pads little, and hand FlagEmbedding one batch at a time
        # (it would otherwise draw a progress bar of its own under ours).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        step = max(self.batch_size - 1, 1)
        encode = self._model.encode_queries if query else self._model.encode_corpus
        for start in range(0, len(order), step):
            batch_ids = order[start : start + step]
            vectors = encode([texts[i] for i in batch_ids], batch_size=self.batch_size, max_length=self.max_length)
            if isinstance(vectors, dict):  # BGE-M3 returns several outputs; the dense one is ours
                vectors = vectors["dense_vecs"]
            vectors = np.asarray(vectors, dtype=np.float32).reshape(len(batch_ids), -1)
            for row, index in enumerate(batch_ids):
                out[index] = vectors[row]
        return np.stack(out).astype(np.float32, copy=False)

    def token_counter(self) -> Callable[[str], int]:
        tokenizer = self._model.tokenizer

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

        return count

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)


def load_flag_embedder(resolved: ResolvedModel, device: str, batch_size: int, max_length: int | None) -> FlagEmbedder:
    """Model loads take seconds: every caller in the process shares one instance per model/device."""
    device = pick_device(device)
    key = (resolved.location, device, max_length or 0)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = FlagEmbedder(resolved, device, batch_size, max_length)
        return _cache[key]
