"""Embeddings through FlagEmbedding (BGE and any HF encoder), loaded once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kbbuild.embed.models import ResolvedModel
from kbbuild.errors import ConfigError, KBError
from kbbuild.providers import Embedder
from kbbuild.records import EmbeddingModelInfo

PROVIDER_NAME = "flagembedding"
_cache: dict[tuple[str, str, int, str], FlagEmbedder] = {}
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
    def __init__(
        self, resolved: ResolvedModel, device: str, batch_size: int, max_length: int | None, engine: str = "torch"
    ) -> None:
        transformers_quiet()
        card = resolved.card
        if engine.startswith("onnx"):
            device = "cpu"  # the torch model is only read to export the graph ONNX Runtime runs
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
        self._family = card.family
        self._device = device
        if device == "cpu":
            self._model.model.float()
        elif common["use_fp16"]:  # what FlagEmbedding's own encode does on a GPU
            self._model.model.half()
        self._model.model.to(device)
        self._model.model.eval()
        self._onnx = self._onnx_encoder(resolved, quantized=engine == "onnx-int8") if engine != "torch" else None
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
            backend=engine,
        )

    def _onnx_encoder(self, resolved: ResolvedModel, quantized: bool):
        import torch

        from kbbuild.embed.onnx import OnnxEncoder, export, quantize

        names = list(self._model.tokenizer.model_input_names)
        path = export(self._model.model, names, resolved.location)
        if quantized:
            path = quantize(path)
        card = resolved.card
        return OnnxEncoder(path, names, card.pooling, card.normalize, torch.get_num_threads(), quantized)

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        # One encode at a time per model: a fast tokenizer used from two threads at once fails
        # ("Already borrowed"), and the query service answers requests on a thread pool.
        with self._encode_lock:
            return self._encode_unlocked(texts, query)

    def _encode_unlocked(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if query and self._model.query_instruction_for_retrieval:
            instruct = self._model.get_detailed_instruct
            form, instruction = self._model.query_instruction_format, self._model.query_instruction_for_retrieval
            texts = [instruct(form, instruction, text) for text in texts]
        return self._forward_sorted(list(texts))

    def _forward_sorted(self, texts: list[str]) -> np.ndarray:
        """FlagEmbedding's own encoding loop (tokenize once, sort by token length, pad per batch, pool,
        normalise) without the probe forward pass it runs on every ``encode`` call to find a batch
        size that fits the device. That probe re-encodes the longest batch, so a caller that hands it
        one batch per call pays about twice the compute; here the batch size is the user's setting
        (``--batch-size``), and the per-text result is the library's to within float rounding."""
        import torch

        model = self._model
        encoded = model.tokenizer(texts, truncation=True, max_length=self.max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        batches: list[np.ndarray] = []
        # int8 graphs quantise activations with one scale per run: batched with other texts, a text's
        # vector would depend on its neighbours (up to 0.03 per dimension), so each runs alone.
        step = 1 if self._onnx is not None and self._onnx.quantized else self.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), step):
                features = [{key: encoded[key][i] for key in encoded} for i in order[start : start + step]]
                if self._onnx is not None:
                    batches.append(self._onnx(model.tokenizer.pad(features, padding=True, return_tensors="np")))
                    continue
                batch = model.tokenizer.pad(features, padding=True, return_tensors="pt").to(self._device)
                batches.append(self._forward(batch).float().cpu().numpy())
        stacked = np.concatenate(batches)
        out = np.empty_like(stacked)
        out[order] = stacked
        return out

    def _forward(self, batch):
        model = self._model
        if self._family == "m3":  # the dense head of BGE-M3, normalised inside the model
            flags = dict(return_dense=True, return_sparse=False, return_colbert_vecs=False)
            return model.model(batch, **flags, truncate_dim=model.truncate_dim)["dense_vecs"]
        hidden = model.model(**batch, return_dict=True).last_hidden_state
        vectors = model._truncate_embeddings(model.pooling(hidden, batch["attention_mask"]))
        if model.normalize_embeddings:
            import torch

            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors

    def token_counter(self) -> Callable[[str], int]:
        return _counter(self._model.tokenizer)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)


# int8 stays opt-in: on financebench (92 questions, 6,147 pages) vector recall@5 fell from 0.283 to
# 0.239 and MRR from 0.187 to 0.179, past the one-point bar a default must meet.
AUTO_INT8 = False


def pick_engine(backend: str, precision: str, device: str, family: str) -> str:
    """What runs the model: "torch", "onnx" (float) or "onnx-int8". ONNX Runtime is the faster CPU
    engine for plain encoders; int8 weights make it about 2x faster again, at cosine 0.99 to the
    float vectors. BGE-M3 (its dense head is a separate module) and GPUs stay on torch in float."""
    onnx_applies = family != "m3"
    if precision == "int8":
        if backend == "torch" or not onnx_applies:
            raise ConfigError(
                f"[embed] precision = 'int8' runs encoder models on ONNX Runtime; this model ({family}) with "
                f"backend '{backend}' needs precision = 'float' or 'auto'"
            )
        return "onnx-int8"  # on the CPU even where a GPU is: int8 kernels are ONNX Runtime's CPU ones
    if backend == "torch":
        return "torch"
    if device != "cpu" or not onnx_applies:
        if backend == "onnx":
            raise ConfigError(
                f"[embed] backend = 'onnx' runs encoder models on the CPU; this model ({family}) on {device} "
                "needs backend = 'torch' or 'auto'"
            )
        return "torch"
    return "onnx-int8" if precision == "auto" and AUTO_INT8 else "onnx"


def _counter(tokenizer) -> Callable[[str], int]:
    """Tokens of a text without special tokens: what a chunk's budget is counted in."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    return count


def load_token_counter(resolved: ResolvedModel) -> Callable[[str], int]:
    """The same tokenizer FlagEmbedding loads for the model (``AutoTokenizer`` from its folder or hub
    name), without the model's weights."""
    from transformers import AutoTokenizer

    transformers_quiet()
    return _counter(AutoTokenizer.from_pretrained(resolved.location))


def transformers_quiet() -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_flag_embedder(
    resolved: ResolvedModel,
    device: str,
    batch_size: int,
    max_length: int | None,
    backend: str = "auto",
    precision: str = "float",
) -> FlagEmbedder:
    """Model loads take seconds: every caller in the process shares one instance per model/engine."""
    device = pick_device(device)
    engine = pick_engine(backend, precision, device, resolved.card.family)
    key = (resolved.location, device, max_length or 0, engine)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = FlagEmbedder(resolved, device, batch_size, max_length, engine)
        return _cache[key]
