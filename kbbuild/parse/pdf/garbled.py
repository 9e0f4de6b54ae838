"""Tell a text layer that decodes to nonsense from text: fonts whose glyphs have no usable Unicode.

A PDF maps each glyph code to Unicode through the font's ToUnicode table or its encoding. Fonts that
have neither (subset fonts of old producers, Type3 fonts with made-up glyph names) decode to the raw
codes. In the classic subset layout those are the code points shifted down by 29, so "The turbine"
reads ``7KH\\x03WXUELQH`` (pdfminer: ``7KH(cid:3)WXUELQH``); other layouts give control codes,
``(cid:NN)`` (pdfminer's spelling of a code it cannot map), U+FFFD or private-use code points. Such a
page *has* a text layer, so counting its characters sends it to the index as garbage; it needs OCR
instead. Per-page character statistics tell the two apart. Glyphs are the non-whitespace characters,
a ``(cid:NN)`` counting as one:

1. unmapped glyphs: ``(cid:NN)``, U+FFFD and private-use code points are at least
   ``UNMAPPED_SHARE`` (30%) of the glyphs. A symbol font's bullets (U+F0B7) are private-use code
   points too, but a few percent of a page (at most 2.4% on the evaluation PDFs).
2. unreadable codes: control characters other than whitespace (C0, DEL, C1), ``(cid:NN)`` and U+FFFD
   are at least ``UNREADABLE_SHARE`` (5%) of the glyphs and at least ``MIN_UNREADABLE`` of them.
   Text has next to none (pdfium's line-end hyphen marker 0x02 is turned back into "-" before
   this; a bullet font may give one per list item); the 29-shift turns every space into 0x03
   (pdfminer: ``(cid:3)``) and every digit into 0x13-0x1c, 15-20% of the glyphs. Private-use code
   points are left out of this count, since bullets are.
3. letters that spell no language, judged on words (tokens of ASCII letters only, so part numbers,
   hex and base64, which mix in digits, are left out) where they hold most of the page's letters
   (``LATIN_MAJORITY``, so Chinese, Cyrillic or Greek pages are never judged) and there are at least
   ``MIN_LETTERS`` letters in them (so tables of figures and short pages are not judged either).
   Latin-script languages put about half or more of their letters on e t a o i n s r (English 65%,
   German 64%, French 68%, Czech and Polish about 50%) and about a third on vowels; the 6,360
   English pages of the evaluation PDFs (../shared/eval: parse/ and the financebench filings) are
   all at or above 49% and 30%. The 29-shifted English puts about 18% and 14% there, random letters
   31% and 19%. Flagged when both are low: under ``COMMON_SHARE`` (30%) and under ``VOWEL_SHARE``
   (22%). With this signal alone (spaces kept, control codes taken out) 99.7% of those pages,
   shifted by 29, are caught; pages that are mostly figures and capitals can escape it.

Pages with fewer than ``MIN_GLYPHS`` glyphs are never flagged: too little evidence either way.
"""

from __future__ import annotations

import re
import string

# Fewer glyphs than this is too little evidence to call a page's text nonsense.
MIN_GLYPHS = 12
# Share of glyphs that are (cid:NN), U+FFFD or private-use code points.
UNMAPPED_SHARE = 0.3
# Share (and least number) of glyphs that are control characters, (cid:NN) or U+FFFD.
UNREADABLE_SHARE = 0.05
MIN_UNREADABLE = 3
# The letter statistics need this many letters in words, and those letters must be this share of
# all letters (accented Latin letters are a few percent; CJK, Cyrillic or Greek text is not judged).
MIN_LETTERS = 60
LATIN_MAJORITY = 0.6
# Below both of these the letters are not any Latin-script language.
COMMON_SHARE = 0.3
VOWEL_SHARE = 0.22

_CID = re.compile(r"\(cid:\d+\)")
_COMMON_LETTERS = frozenset("etaoinsr")
_VOWELS = frozenset("aeiou")
_PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d\u00ab\u00bb\u2013\u2014\u2026"

# The statistics below run over every block and page of every PDF, so they count with regular
# expressions and ``str.translate`` (C loops) rather than a Python test per character. Each class is
# built from the per-character rule it stands for, so the two cannot drift apart.
_CONTROL_CHARS = "".join(chr(code) for code in range(0xA0) if (code < 0x20 or code >= 0x7F) and not chr(code).isspace())
_CONTROL = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")
_UNMAPPED = re.compile("[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s")
_CONTROL_TO_SPACE = {ord(char): " " for char in _CONTROL_CHARS}
_ASCII_LETTERS = {ord(char): None for char in string.ascii_letters}
_WITHOUT_COMMON = {ord(char): None for char in _COMMON_LETTERS}
_WITHOUT_VOWELS = {ord(char): None for char in _VOWELS}


def _deleted(text: str, table: dict[int, None]) -> int:
    """How many characters of ``text`` ``table`` deletes."""
    return len(text) - len(text.translate(table))


class _Counts:
    """The glyph statistics of one text: glyphs are its non-whitespace characters outside
    ``(cid:NN)`` tokens, a token counting as one glyph of its own."""

    def __init__(self, text: str) -> None:
        self.cids = len(_CID.findall(text))
        self.rest = _CID.sub(" ", text) if self.cids else text
        self.glyphs = len(self.rest) - len(_WHITESPACE.findall(self.rest))
        self.total = self.glyphs + self.cids

    def unmapped(self) -> int:
        return self.cids + len(_UNMAPPED.findall(self.rest))

    def unreadable(self) -> int:
        return self.cids + len(_CONTROL.findall(self.rest)) + self.rest.count("\ufffd")

    def letters(self) -> int:
        if self.rest.isascii():
            return _deleted(self.rest, _ASCII_LETTERS)
        return sum(map(str.isalpha, self.rest))


def _latin_words(text: str) -> list[str]:
    """Tokens of two or more ASCII letters and nothing else (punctuation around them stripped):
    words. Part numbers, hex and base64 mix in digits, so their random letters are left out."""
    spaced = _CID.sub(" ", text).translate(_CONTROL_TO_SPACE)
    words = (token.strip(_PUNCTUATION) for token in spaced.split())
    return [word for word in words if len(word) >= 2 and word.isascii() and word.isalpha()]


def unreadable_share(text: str) -> float:
    """Share of the glyphs of ``text`` that are control codes, ``(cid:NN)`` or U+FFFD: the part of a
    text layer that is certainly not text, character by character."""
    counts = _Counts(text)
    return counts.unreadable() / max(counts.total, 1)


def garbled_reason(text: str) -> str | None:
    """Why ``text`` (one page's text layer) is nonsense rather than text, or None when it reads as
    text or is too short to tell. The reason names the statistic and its value, for the warning
    that tells the user why the page was read by OCR instead."""
    counts = _Counts(text)
    total = counts.total
    if total < MIN_GLYPHS:
        return None
    unmapped = counts.unmapped()
    if unmapped >= UNMAPPED_SHARE * total:
        return f"unmapped glyphs: {unmapped} of {total} characters are (cid:NN), U+FFFD or private-use codes"
    unreadable = counts.unreadable()
    if unreadable >= max(UNREADABLE_SHARE * total, MIN_UNREADABLE):
        return f"unmapped glyphs: {unreadable} of {total} characters are control codes, (cid:NN) or U+FFFD"
    latin = "".join(_latin_words(text)).lower()
    if len(latin) < MIN_LETTERS or len(latin) < LATIN_MAJORITY * counts.letters():
        return None
    common = _deleted(latin, _WITHOUT_COMMON) / len(latin)
    vowels = _deleted(latin, _WITHOUT_VOWELS) / len(latin)
    if common < COMMON_SHARE and vowels < VOWEL_SHARE:
        return (
            f"unmapped glyphs: the letters spell no language ({common:.0%} are e/t/a/o/i/n/s/r and "
            f"{vowels:.0%} vowels, where text has about half and a third)"
        )
    return None
