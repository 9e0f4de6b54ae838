"""Question generation with GGUF instruct models on llama.cpp, through the ``xllamacpp`` wheel
(llama.cpp's server compiled in, prebuilt for manylinux: no compiler, no network).

Why not transformers for these models: it de-quantises a GGUF file to fp32 and runs it through
PyTorch, several times slower on a CPU than llama.cpp's quantised kernels, and loading takes tens of
seconds instead of one. What this module does to be fast and still reproducible:

- the model loads once per process (per worker under Ray) and stays loaded (``load_llamacpp``);
- a chunk's candidates are one request with ``n`` completions: llama.cpp evaluates the prompt once
  and decodes the ``n`` sequences together in its parallel slots (one forward pass per step for all
  of them);
- generation stops at the first newline (a question is one line) or after ``MAX_TOKENS``;
- the thread count is the cores this process may use unless ``[questions] threads`` says otherwise.

What it does not do, on purpose: run several chunks at once or reuse a cached prompt prefix. Both
make a chunk's candidates depend on what else the server was doing (the numbers of a batch depend
on its make-up, and a prompt evaluated from a cached prefix gives slightly different logits than
one evaluated whole), so the same chunk would get different questions from run to run; measured on
the packaged model, each of them changed the candidates of a repeated request. With one request in
flight and no prompt cache, the same chunk gets the same candidates every time (seeded per chunk,
``prompts.seed_of``), as a KB version must.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kbbuild.enrich.questions.prompts import completion_prompt, first_line, one_shot_messages, seed_of

INSTALL_HINT = "pip install xllamacpp==2026.10.11549"
MAX_TOKENS = 48
CONTEXT_PER_SLOT = 1024  # tokens: the one-shot prompt, a chunk of up to ~700 tokens and the question


def llamacpp_unavailable() -> str | None:
    if importlib.util.find_spec("xllamacpp") is None:
        return f"GGUF models run on llama.cpp through the xllamacpp wheel, which is not installed: {INSTALL_HINT}"
    return None


@dataclass(frozen=True)
class LlamaCppOptions:
    threads: int
    slots: int  # sequences decoded together: the candidates asked per chunk
    temperature: float = 0.8
    top_p: float = 0.95
    chat: bool = True  # an instruct model with a chat template; a base model gets a completion prompt


def has_chat_template(gguf: Path) -> bool:
    """Whether the file carries a chat template. Without one llama.cpp falls back to ChatML, which a
    base model does not know: it copies the passage and writes "<|im_end|>" out as text."""
    from gguf import GGUFReader

    return "tokenizer.chat_template" in GGUFReader(str(gguf)).fields


class LlamaCppGenerator:
    """One GGUF model in an in-process llama.cpp server; ``questions`` returns ``n`` raw candidates
    per passage (the Doc2Query-- filter decides which stay)."""

    def __init__(self, gguf: Path, options: LlamaCppOptions) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_parallel = options.slots
        params.n_ctx = CONTEXT_PER_SLOT * options.slots
        params.cpuparams.n_threads = options.threads
        params.cpuparams_batch.n_threads = options.threads
        params.warmup = False
        params.verbosity = -1  # its log lines would land between the progress bars
        self.server = xllamacpp.Server(params)
        self.options = options

    def _ask(self, passage: str, n: int, offset: int) -> list[str]:
        request = {
            "n": n,
            "max_tokens": MAX_TOKENS,
            "temperature": self.options.temperature,
            "top_p": self.options.top_p,
            "seed": (seed_of(passage) + offset) % 2**31,
            "stop": ["\n"],
            "cache_prompt": False,
        }
        if self.options.chat:
            reply = self.server.handle_chat_completions({"messages": one_shot_messages(passage), **request})
        else:
            reply = self.server.handle_completions({"prompt": completion_prompt(passage), **request})
        if "error" in reply:
            raise RuntimeError(f"llama.cpp: {reply['error']}")
        texts = [c["message"]["content"] if self.options.chat else c["text"] for c in reply["choices"]]
        return [first_line(text or "") for text in texts]

    def questions(self, passages: Sequence[str], n: int) -> list[list[str]]:
        """One request per passage (more when ``n`` exceeds the slots), one at a time."""
        out = []
        for passage in passages:
            candidates: list[str] = []
            while len(candidates) < n:
                candidates.extend(self._ask(passage, min(n - len(candidates), self.options.slots), len(candidates)))
            out.append(candidates)
        return out


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_cache: dict[tuple[str, LlamaCppOptions], LlamaCppGenerator] = {}
_lock = threading.Lock()


def load_llamacpp(gguf: Path, options: LlamaCppOptions) -> LlamaCppGenerator:
    """Loading takes about a second for the packaged model; one server per model and options."""
    key = (str(gguf), options)
    with _lock:
        if key not in _cache:
            _cache[key] = LlamaCppGenerator(gguf, options)
        return _cache[key]
