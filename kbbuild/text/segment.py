"""Text for the full-text index: words separated by spaces, in every script.

LanceDB's full-text index splits text into tokens at whitespace. Chinese has no spaces, so a whole
sentence would become one token and BM25 would never match part of it. Runs of CJK characters are
therefore cut into words with jieba in search mode (which also emits the shorter words inside a long
compound, e.g. 住宿费 -> 住宿, 宿费, 住宿费), and other text is split into lower-case word tokens.
Queries go through the same function, so both sides of a match are cut alike. English stemming and
stop words are left to the index (``store.indexes``), which does them per token.
"""

from __future__ import annotations

import logging
import re
from functools import cache

from kbbuild.text.characters import unify_characters

_CJK_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+)")
_WORD = re.compile(r"\w+")


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def search_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for index, piece in enumerate(_CJK_RUN.split(unify_characters(text))):
        if index % 2:  # a CJK run (split keeps the captured separators at odd positions)
            tokens.extend(word for word in _jieba().cut_for_search(piece) if word.strip())
        else:
            tokens.extend(_WORD.findall(piece.lower()))
    return tokens


def search_text(text: str) -> str:
    """The string stored in (and queried against) the ``search_text`` column."""
    return " ".join(search_tokens(text))


def is_mostly_cjk(text: str) -> bool:
    """Whether most of the letters of ``text`` are Chinese or Japanese characters."""
    cjk = sum(len(run) for run in _CJK_RUN.findall(text))
    other = sum(len(word) for word in _WORD.findall(_CJK_RUN.sub(" ", text)) if not word.isdigit())
    return cjk > 0 and cjk >= other
