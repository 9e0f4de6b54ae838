"""ONNX Runtime as the engine under an encoder model: the same weights, the same vectors to float
rounding, run by ONNX Runtime's fused CPU kernels instead of PyTorch's eager ones.

The graph is exported locally from the model folder kbbuild already loaded (``torch.onnx``, nothing
downloaded) into ``~/.cache/kbbuild/onnx/``, keyed by the model's files, once per model; pooling and
normalisation stay in numpy so they are exactly the model card's. ``quantize`` derives the int8
graph of ``[embed] precision = "int8"`` from it. BGE-M3 (its dense head is a separate module) keeps
PyTorch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("KBBUILD_CACHE", Path.home() / ".cache" / "kbbuild")) / "onnx"


def _key(location: str) -> str:
    """A cache key that changes when the model's files do (a fine-tuned folder saved over). The
    graph's input names are not part of it: they are read back from the graph itself."""
    digest = hashlib.sha256(b"encoder-graph-v2")
    folder = Path(location)
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    else:
        digest.update(location.encode())
    safe = "".join(c if c.isalnum() else "-" for c in folder.name or location)[-40:]
    return f"{safe}-{digest.hexdigest()[:16]}"


def cached_graph(location: str) -> Path | None:
    """The graph ``export`` wrote before for this model folder, if it is still there."""
    target = CACHE / _key(location) / "model.onnx"
    return target if target.is_file() else None


def export(model, input_names: list[str], location: str) -> Path:
    """The model's encoder as an ONNX graph with dynamic batch and sequence axes (cached)."""
    import torch

    target = CACHE / _key(location) / "model.onnx"
    if target.is_file():
        return target

    class _Encoder(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            named = dict(zip(input_names, inputs, strict=True))
            return self.inner(**named, return_dict=True).last_hidden_state

    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in input_names)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*input_names, "last_hidden_state"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes the dynamic axes take care of
            torch.onnx.export(
                _Encoder(model).eval(),
                sample,
                temporary,
                input_names=input_names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def quantize(path: Path) -> Path:
    """The graph with int8 weights in its matrix products (cached next to it).

    Dynamic quantisation: weights are stored as int8 with one scale per output channel, and
    activations are quantised on the fly with one scale per run (so
    ``FlagEmbedder`` runs one text at a time). Only products with a constant weight matrix
    are quantised; attention's activation-by-activation products stay float, since their ranges
    change with every input (quantising them too cost 0.07 of cosine to the float vectors). The
    result is deterministic: scales come from the weights alone.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = path.with_name("model-int8.onnx")
    if target.is_file():
        return target
    fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process applies to convolution models
    try:
        quantize_dynamic(
            path,
            temporary,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"MatMulConstBOnly": True},
        )
        os.replace(temporary, target)
    finally:
        root.setLevel(level)
        Path(temporary).unlink(missing_ok=True)
    return target


class OnnxEncoder:
    """Runs the exported graph and pools like the model card says."""

    def __init__(self, path: Path, pooling: str, normalize: bool, threads: int, quantized: bool = False) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.pooling = pooling
        self.normalize = normalize
        self.quantized = quantized  # activations are quantised per run: callers run one text at a time

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        ids = np.asarray(batch["input_ids"], dtype=np.int64)
        # A tokenizer loaded without the model's class may leave out segment ids; one text is segment 0.
        feeds = {
            name: np.asarray(batch[name], dtype=np.int64) if name in batch else np.zeros_like(ids)
            for name in self.input_names
        }
        hidden = self.session.run(None, feeds)[0]
        if self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        if self.normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32, copy=False)
