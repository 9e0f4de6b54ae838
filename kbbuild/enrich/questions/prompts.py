"""What every instruct-model generator asks, in the chunk's own language: a one-shot chat (an
example passage and its question, then the chunk) that makes a small model answer with one line.

The seed of a chunk comes from its text, so the same chunk gets the same questions on every run: a
KB version must be reproducible.
"""

from __future__ import annotations

import hashlib
import re

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
    "zh-Hant": (
        "員工應在出差結束後三十天內提交報銷申請，並附上發票和行程單。",
        "出差結束後多少天內必須提交報銷申請？",
    ),
}
_ASK = {
    "en": "Read the passage and ask one question that it answers.",
    "zh": "阅读下面的段落，提出一个它能回答的问题。",
    "zh-Hant": "閱讀下面的段落，提出一個它能回答的問題。",
}
# Completion prompts for base models (no chat template): passage, then the question's label.
_LABELS = {"en": ("Passage: ", "Question: "), "zh": ("段落：", "问题："), "zh-Hant": ("段落：", "問題：")}
# Characters written differently in Traditional and Simplified Chinese, among the most frequent.
_TRADITIONAL = frozenset("這個們於與為過來會說時從後國對發還點無開關東車長門問間報應當實現經產業務費額營際資讓證")
_SIMPLIFIED = frozenset("这个们于与为过来会说时从后国对发还点无开关东车长门问间报应当实现经产业务费额营际资让证")
_TRADITIONAL, _SIMPLIFIED = _TRADITIONAL - _SIMPLIFIED, _SIMPLIFIED - _TRADITIONAL
_SPECIAL_TOKEN = re.compile(r"<\|[a-z_]+\|>|<(end_of_turn|start_of_turn|eos|bos)>")


def language(text: str) -> str:
    """'zh' when a third of the letters are CJK, else 'en': the language the questions are asked in."""
    letters = [ch for ch in text if ch.isalpha()]
    return "zh" if letters and sum(is_cjk(ch) for ch in letters) > len(letters) / 3 else "en"


def script(passage: str) -> str:
    """'en', 'zh' (Simplified) or 'zh-Hant': the example a prompt shows is in the passage's own
    script, or a small model answers a Traditional Chinese filing in Simplified characters."""
    if language(passage) == "en":
        return "en"
    traditional = sum(ch in _TRADITIONAL for ch in passage)
    simplified = sum(ch in _SIMPLIFIED for ch in passage)
    return "zh-Hant" if traditional > simplified else "zh"


def one_shot_messages(passage: str) -> list[dict[str, str]]:
    lang = script(passage)
    example, question = _EXAMPLES[lang]
    return [
        {"role": "user", "content": f"{_ASK[lang]}\n\n{example}"},
        {"role": "assistant", "content": question},
        {"role": "user", "content": f"{_ASK[lang]}\n\n{passage}"},
    ]


def completion_prompt(passage: str) -> str:
    """For base models: one example passage with its question, then the chunk and the label
    after which the model writes its question (up to the line's end)."""
    lang = script(passage)
    example, question = _EXAMPLES[lang]
    text, ask = _LABELS[lang]
    return f"{text}{example}\n{ask}{question}\n\n{text}{passage}\n{ask}"


def seed_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def first_line(text: str) -> str:
    """A question is one line: whatever a model adds after it, and chat tokens it writes out as text
    ("<|im_end|>"), are dropped."""
    return _SPECIAL_TOKEN.sub("", text.strip().split("\n")[0]).strip()
