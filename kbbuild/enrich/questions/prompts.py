"""What every instruct-model generator asks, in the chunk's own language: a one-shot chat (an
example passage and its question, then the chunk) that makes a small model answer with one line.

The seed of a chunk comes from its text, so the same chunk gets the same questions on every run: a
KB version must be reproducible.
"""

from __future__ import annotations

import hashlib

from kbbuild.text.lines import is_cjk

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


def language(text: str) -> str:
    """'zh' when a third of the letters are CJK, else 'en': the language the questions are asked in."""
    letters = [ch for ch in text if ch.isalpha()]
    return "zh" if letters and sum(is_cjk(ch) for ch in letters) > len(letters) / 3 else "en"


def one_shot_messages(passage: str) -> list[dict[str, str]]:
    lang = language(passage)
    example, question = _EXAMPLES[lang]
    return [
        {"role": "user", "content": f"{_ASK[lang]}\n\n{example}"},
        {"role": "assistant", "content": question},
        {"role": "user", "content": f"{_ASK[lang]}\n\n{passage}"},
    ]


def seed_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def first_line(text: str) -> str:
    """A question is one line: whatever a model adds after it is dropped."""
    return text.strip().split("\n")[0].strip()
