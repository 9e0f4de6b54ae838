"""Cross-encoder reranking through FlagEmbedding's ``FlagReranker``.

A cross-encoder reads query and passage together, so it judges relevance better than comparing two
separately computed embeddings, at the price of one model pass per candidate: it reorders the few
dozen fused candidates, never the whole KB. The default is BAAI/bge-reranker-v2-m3 (multilingual,
downloaded from the Hugging Face hub once); any local folder with a sequence-classification
cross-encoder works offline. Nothing is downloaded silently in a place without internet: the error
says what to do instead.
"""

from __future__ import annotations

import threading
from pathlib import Path

from kbbuild.errors import ConfigError

_cache: dict[tuple[str, str], Reranker] = {}
_lock = threading.Lock()


class Reranker:
    def __init__(self, model: str, device: str) -> None:
        from FlagEmbedding import FlagReranker

        from kbbuild.embed.flag import pick_device, transformers_quiet

        transformers_quiet()  # its weight-loading bar would land in the middle of `query --json` output
        self.model = model
        self.device = pick_device(device)
        self._model = FlagReranker(model, use_fp16=self.device == "cuda", devices=[self.device])

    def __call__(self, query: str, passages: list[str]) -> list[float]:
        """Relevance of each passage to the query, 0..1 (the sigmoid of the model's logit)."""
        if not passages:
            return []
        scores = self._model.compute_score([[query, passage] for passage in passages], normalize=True)
        return [float(s) for s in (scores if isinstance(scores, list) else [scores])]


def load_reranker(model: str, device: str = "auto") -> Reranker:
    key = (model, device)
    with _lock:
        if key not in _cache:
            try:
                _cache[key] = Reranker(model, device)
            except ImportError as error:
                raise ConfigError(f"--rerank needs FlagEmbedding: {error}") from None
            except (OSError, ValueError) as error:  # hub unreachable, or not a model folder
                where = "local folder" if Path(model).is_dir() else "hub model (needs internet the first time)"
                raise ConfigError(
                    f"cannot load the reranker {model!r} ({where}): {error}. Set [query] reranker to a local "
                    "cross-encoder folder, e.g. a downloaded BAAI/bge-reranker-v2-m3."
                ) from None
        return _cache[key]
