"""Embeddings through FlagEmbedding (BGE and any HF encoder), loaded once per process."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
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
    """``auto``: CUDA, then Apple's MPS, then the CPU. A Linux machine without an NVIDIA driver is
    answered without importing PyTorch (hundreds of MB the ONNX engine does not need)."""
    if requested != "auto":
        return requested
    if sys.platform.startswith("linux") and not Path("/proc/driver/nvidia").exists() and "torch" not in sys.modules:
        return "cpu"
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
        self._instruction = card.query_instruction
        self._family = card.family
        self._device = device
        self._model: Any = None
        self._onnx = None
        self._bf16 = engine == "torch-bf16"
        self._trim = engine.startswith("torch") and device == "cpu"
        if self._trim:
            bound_onednn_caches()
        if engine.startswith("onnx"):
            self._tokenizer, self._onnx = _cached_onnx(resolved, quantized=engine == "onnx-int8")
        if self._onnx is None:
            self._load_flag_model(resolved, device, batch_size, engine)
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

    def _load_flag_model(self, resolved: ResolvedModel, device: str, batch_size: int, engine: str) -> None:
        """FlagEmbedding's model: the engine itself on torch; for ONNX only the source of the graph,
        exported once and then let go (the driver need not hold PyTorch weights it never runs)."""
        card = resolved.card
        common: dict[str, Any] = dict(
            normalize_embeddings=card.normalize,
            use_fp16=device.startswith("cuda") and engine == "torch",
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
        self._tokenizer = self._model.tokenizer
        if self._bf16:  # weights in bf16 too: casting them on every batch (autocast) costs about 20%
            import torch

            self._model.model.to(torch.bfloat16)
        elif device == "cpu":
            self._model.model.float()
        elif common["use_fp16"]:  # what FlagEmbedding's own encode does on a GPU
            self._model.model.half()
        self._model.model.to(device)
        self._model.model.eval()
        if engine.startswith("onnx"):
            from kbbuild.embed.onnx import export

            export(self._model.model, list(self._tokenizer.model_input_names), resolved.location)
            self._tokenizer, self._onnx = _cached_onnx(
                resolved, quantized=engine == "onnx-int8", tokenizer=self._tokenizer
            )
            self._model = None

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        # One encode at a time per model: a fast tokenizer used from two threads at once fails
        # ("Already borrowed"), and the query service answers requests on a thread pool.
        with self._encode_lock:
            return self._encode_unlocked(texts, query)

    def _encode_unlocked(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if query and self._instruction:  # FlagEmbedding's default query form: the instruction, then the text
            texts = [f"{self._instruction}{text}" for text in texts]
        return self._forward_sorted(list(texts))

    def _forward_sorted(self, texts: list[str]) -> np.ndarray:
        """FlagEmbedding's own encoding loop (tokenize once, sort by token length, pad per batch, pool,
        normalise) without the probe forward pass it runs on every ``encode`` call to find a batch
        size that fits the device. That probe re-encodes the longest batch, so a caller that hands it
        one batch per call pays about twice the compute; here the batch size is the user's setting
        (``--batch-size``), and the per-text result is the library's to within float rounding."""
        tokenizer = self._tokenizer
        encoded = tokenizer(texts, truncation=True, max_length=self.max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        batches: list[np.ndarray] = []
        # int8 graphs quantise activations with one scale per run: batched with other texts, a text's
        # vector would depend on its neighbours (up to 0.03 per dimension), so each runs alone.
        step = 1 if self._onnx is not None and self._onnx.quantized else self.batch_size
        for start in range(0, len(order), step):
            features = [{key: encoded[key][i] for key in encoded} for i in order[start : start + step]]
            if self._onnx is not None:
                batches.append(self._onnx(tokenizer.pad(features, padding=True, return_tensors="np")))
            else:
                batches.append(self._forward_torch(tokenizer.pad(features, padding=True, return_tensors="pt")))
        stacked = np.concatenate(batches)
        out = np.empty_like(stacked)
        out[order] = stacked
        if self._trim:
            release_freed_memory()
        return out

    def _forward_torch(self, batch) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._forward(batch.to(self._device)).float().cpu().numpy()

    def _forward(self, batch):
        model = self._model
        if self._family == "m3":  # the dense head of BGE-M3, normalised inside the model
            flags = dict(return_dense=True, return_sparse=False, return_colbert_vecs=False)
            return model.model(batch, **flags, truncate_dim=model.truncate_dim)["dense_vecs"]
        hidden = model.model(**batch, return_dict=True).last_hidden_state
        if self._bf16:  # pool and normalise in float: a mean over hundreds of tokens in bf16 loses digits
            hidden = hidden.float()
        vectors = model._truncate_embeddings(model.pooling(hidden, batch["attention_mask"]))
        if model.normalize_embeddings:
            import torch

            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors

    def token_counter(self) -> Callable[[str], int]:
        return _counter(self._tokenizer)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self._tokenizer(list(texts), add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)


# int8 stays opt-in: on financebench (92 questions, 6,147 pages) vector recall@5 fell from 0.283 to
# 0.239 and MRR from 0.187 to 0.179, past the one-point bar a default must meet.
AUTO_INT8 = False


# Kernels oneDNN builds for one input shape, kept for reuse. Its default keeps 1,024; every batch of
# length-sorted texts has a shape of its own, and on AMX each kernel holds its own copy of the
# weights in the tile layout, so a full ingest grew the driver past 2 GB. 16 holds what one forward
# pass reuses: the same speed, measured, at a tenth of the memory.
ONEDNN_KERNELS_KEPT = 16


def bound_onednn_caches() -> None:
    """Cap oneDNN's kernel cache, unless the user set it. Read by oneDNN when it builds its first
    kernel, so this runs before the model does."""
    import os

    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_KERNELS_KEPT))


def release_freed_memory() -> None:
    """Give the memory PyTorch freed back to the system. Batches of a new shape each allocate
    buffers of new sizes; glibc keeps what they free in fragments it rarely returns, and over a
    financebench run the driver's resident memory grew by about 1 GB of freed buffers (40
    batches of 256 texts: 1,253 MB without this, 374 MB with it). A no-op on other C libraries."""
    import ctypes
    import ctypes.util

    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX), read from the
    kernel's CPU flags so that asking does not import PyTorch. Only there is bf16 the faster
    engine: elsewhere PyTorch emulates it, slower than float."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as flags:
            return any(line.startswith("flags") and " amx_bf16" in line for line in flags)
    except OSError:
        return False


def pick_engine(backend: str, precision: str, device: str, family: str) -> str:
    """What runs the model: "torch", "torch-bf16", "onnx" (float) or "onnx-int8".

    On a CPU with AMX, PyTorch with bfloat16 weights (its CPU kernels accumulate norms and softmax
    in float; pooling runs in float) is the fastest engine by far, about 3x float on MiniLM, at
    cosine 0.9999 to the float vectors; ``precision = "auto"`` takes it there for a new KB.
    Elsewhere ONNX Runtime is the float engine for plain encoders, and int8 weights (cosine 0.99, a
    recall cost) stay opt-in.
    BGE-M3 (its dense head is a separate module) and GPUs stay on torch."""
    onnx_applies = family != "m3"
    if precision == "int8":
        if backend == "torch" or not onnx_applies:
            raise ConfigError(
                f"[embed] precision = 'int8' runs encoder models on ONNX Runtime; this model ({family}) with "
                f"backend '{backend}' needs precision = 'float' or 'auto'"
            )
        return "onnx-int8"  # on the CPU even where a GPU is: int8 kernels are ONNX Runtime's CPU ones
    if precision == "bf16":
        if backend == "onnx":
            raise ConfigError(
                "[embed] precision = 'bf16' runs the model on PyTorch; backend 'onnx' needs precision = 'float', "
                "'int8' or 'auto'"
            )
        return "torch-bf16"
    if precision == "auto" and device == "cpu" and backend != "onnx" and cpu_has_bf16_matrix_units():
        return "torch-bf16"
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


def _cached_onnx(resolved: ResolvedModel, quantized: bool, tokenizer: Any = None) -> tuple[Any, Any]:
    """The tokenizer and the ONNX Runtime session of a graph exported before, without FlagEmbedding
    or PyTorch: the ingest driver then holds the graph alone (about 240 MB less on MiniLM). The
    tokenizer is the one FlagEmbedding loads (``AutoTokenizer`` from the model's folder or name).
    (tokenizer, None) when no graph is cached yet: the caller exports one."""
    from kbbuild.embed.onnx import OnnxEncoder, cached_graph, quantize

    path = cached_graph(resolved.location)
    if path is None:
        return tokenizer, None
    if tokenizer is None:
        try:
            tokenizer = load_tokenizer(resolved.location)
        except OSError:
            return None, None  # let FlagEmbedding's load say what is missing, with its hint
    if quantized:
        path = quantize(path)
    card = resolved.card
    return tokenizer, OnnxEncoder(path, card.pooling, card.normalize, _cpu_threads(), quantized)


def _cpu_threads() -> int:
    """The threads PyTorch would use on this machine (its default: the usable cores), asked without
    importing PyTorch; ``torch.set_num_threads`` in the caller still wins when PyTorch is loaded."""
    import os
    import sys

    import psutil

    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, psutil.cpu_count(logical=False) or usable))


def _counter(tokenizer) -> Callable[[str], int]:
    """Tokens of a text without special tokens: what a chunk's budget is counted in."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    return count


def load_token_counter(resolved: ResolvedModel) -> Callable[[str], int]:
    """Tokens of a text as the model's tokenizer counts them, without the model's weights. Where the
    folder has a ``tokenizer.json`` it is run by the ``tokenizers`` library itself, the engine under
    transformers' fast tokenizer: a parse worker that only counts then skips importing transformers
    (about a second of CPU per worker). Tests compare the counts with ``AutoTokenizer``'s."""
    path = Path(resolved.location) / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_truncation()
        tokenizer.no_padding()

        def count(text: str) -> int:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)

        return count
    return _counter(load_tokenizer(resolved.location))


def load_tokenizer(location: str) -> Any:
    """The model's tokenizer as FlagEmbedding loads it (``AutoTokenizer``), but where the folder has
    a ``tokenizer.json`` read straight from it: ``AutoTokenizer`` goes through the model's config
    classes, which import PyTorch (about 250 MB in every parse worker and in the ingest driver, for a
    tokenizer). Both read the same ``tokenizer.json``; tests compare their ids."""
    transformers_quiet()
    if (Path(location) / "tokenizer.json").is_file():
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast.from_pretrained(location)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(location)


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
