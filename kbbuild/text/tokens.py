"""Token estimates for chunk budgets that behave the same for Chinese and English.

Each CJK character counts as one token (WordPiece and SentencePiece vocabularies mostly split
Chinese per character) and each run of Latin letters/digits as one token plus a share for long
words; punctuation is free. This tracks real tokenizer counts closely enough for budgeting without
loading a tokenizer in the chunking stage.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z0-9\u00c0-\u024f]+")


def count_tokens(text: str) -> int:
    total = 0
    for match in _TOKEN.finditer(text):
        piece = match.group(0)
        total += 1 + (len(piece) - 1) // 8 if len(piece) > 1 else 1
    return total


_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.])\s+(?=[\"“(\[A-Z0-9\u4e00-\u9fff])")


def split_sentences(text: str) -> list[str]:
    """Split after Chinese 。！？； and English . ! ? ; (not inside numbers like 3.14)."""
    parts = [part.strip() for part in _SENTENCE_END.split(text)]
    return [part for part in parts if part]
