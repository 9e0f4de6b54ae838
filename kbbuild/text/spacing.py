"""Put back the spaces OCR drops between English words.

PP-OCR's recogniser often merges words ("NOTICE OFWATER") or reads a space as a dot ("while.the").
Only runs of letters that are not words themselves are segmented, with wordninja's unigram model
of English (shipped in its wheel), and a split is accepted only when every piece is a plausible
word; names, codes and anything with digits are left alone. Chinese needs no spaces and is never
touched.
"""

from __future__ import annotations

import re
from functools import lru_cache

_LETTER_RUN = re.compile(r"[A-Za-z]+")
_DOT_BETWEEN_WORDS = re.compile(r"(?<=[a-z]{2})\.(?=[a-z]{2})")
_DOT_BEFORE_NUMBER = re.compile(r"\b([A-Za-z]{4,})\.(?=\d)")
MIN_RUN = 6
# Closed-class words that OCR most often glues to their neighbour.
GLUE_WORDS = frozenset({"a", "an", "the", "of", "and", "or", "to", "in", "on", "for", "at", "by", "with", "from", "is"})
# Pieces of a split must be common words: rare "words" such as "jiang" or "shire" are usually
# parts of a name, which is better left whole than cut.
MAX_PIECE_RANK = 40_000
# After a dot these are extensions and domains, not a word OCR glued on ("file.txt", "x.com").
_NOT_AFTER_DOT = {
    "com",
    "org",
    "net",
    "edu",
    "gov",
    "txt",
    "pdf",
    "html",
    "htm",
    "doc",
    "docx",
    "xlsx",
    "csv",
    "json",
    "xml",
    "png",
    "jpg",
    "zip",
    "exe",
    "py",
    "cn",
    "uk",
    "de",
    "io",
    "www",
}


@lru_cache(maxsize=1)
def _model():
    import wordninja

    return wordninja.DEFAULT_LANGUAGE_MODEL


def _known(word: str) -> bool:
    return word.lower() in _model()._wordcost


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    words = sorted(_model()._wordcost.items(), key=lambda item: item[1])
    return frozenset(word for word, _ in words[:MAX_PIECE_RANK])


def _common_word(word: str) -> bool:
    return word.lower() in _common() and (len(word) > 1 or word.lower() in ("a", "i"))


def _segment(run: str) -> str:
    if len(run) < MIN_RUN or _known(run):
        return run
    pieces = _model().split(run)
    if len(pieces) < 2 or "".join(pieces) != run:
        return run
    if not all(_common_word(p) for p in pieces):
        return run
    if run[0].isupper() and run[1:].islower():
        # "Buildingof" or "Thepump" are glued words; "Zhangjiang", "Docling" are names. A capitalised
        # run is split only around a closed-class word, and its other pieces must be real words.
        glue = [p for p in pieces if p.lower() in GLUE_WORDS]
        if not glue or any(len(p) < 3 for p in pieces if p.lower() not in GLUE_WORDS):
            return run
    if sum(len(p) for p in pieces) / len(pieces) < 2.5:
        return run
    return " ".join(pieces)


def fix_spacing(text: str) -> str:
    """Re-insert word spaces in English OCR text; CJK and short tokens are returned unchanged."""

    def dot(match: re.Match[str]) -> str:
        start, end = match.start(), match.end()
        left = re.search(r"[A-Za-z]+$", text[:start])
        right = re.match(r"[A-Za-z]+", text[end:])
        token_start = text.rfind(" ", 0, start) + 1
        token_end = text.find(" ", end)
        token = text[token_start : token_end if token_end >= 0 else len(text)]
        if (
            left
            and right
            and token.count(".") == 1
            and right.group(0).lower() not in _NOT_AFTER_DOT
            and left.group(0).lower() not in _NOT_AFTER_DOT
            and _common_word(left.group(0))
            and _common_word(right.group(0))
        ):
            return " "
        return "."

    text = _DOT_BETWEEN_WORDS.sub(dot, text)
    # "from.08:00": a common word of 4+ letters glued to a number by a dot (short ones such as
    # "No.5" or "Fig.3" are abbreviations and keep their dot).
    text = _DOT_BEFORE_NUMBER.sub(lambda m: m.group(1) + (" " if _common_word(m.group(1)) else "."), text)
    return _LETTER_RUN.sub(lambda m: _segment(m.group(0)), text)
