"""One code point per character: look-alike code points in extracted text mapped to the usual one.

PDF fonts map some glyphs to code points that look the same as the common ideograph but are not
it: CJK compatibility ideographs (U+F900-FAFF: `年` for 年, `金` for 金; 253 of them in the insurance
policies of zh-hant-filings, 72 in one file) and Kangxi radicals (U+2F00-2FD5: `⼀` for 一, a known
fault of fonts from some word processors). A reader sees no difference, but a query typed with the
usual character matches neither full-text search nor, reliably, the embedding. Canonical
composition (NFC) maps the compatibility ideographs, and the radicals are mapped through their
compatibility decomposition; nothing else changes (full NFKC would also rewrite full-width
punctuation and ligatures, which carry meaning in Chinese layout and in names).
"""

from __future__ import annotations

import unicodedata

_RADICALS = {
    code: unicodedata.normalize("NFKC", chr(code))
    for code in [*range(0x2E80, 0x2EF4), *range(0x2F00, 0x2FD6)]
    if unicodedata.normalize("NFKC", chr(code)) != chr(code)
}


def unify_characters(text: str) -> str:
    """``text`` with look-alike ideographs and radicals replaced by the usual characters."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text).translate(_RADICALS)
