"""Duplicate chunks across files and across versions: the first occurrence is stored, later ones
are linked to it (``FileRecord.duplicates``) instead of filling the top-k with the same passage.

Exact duplicates share a hash of their normalised text (case, width and whitespace folded). Near
duplicates (a re-exported report, OCR and text-layer copies of the same page) are found with MinHash
over character shingles (LSH from ``datasketch``): 5-grams for alphabetic text, 3-grams where CJK
dominates, since Chinese has no spaces and a character carries more. Two chunks whose numbers
differ are never near-duplicates: last year's table with this year's figures looks almost the same
and is not. Short chunks (a lone heading) are never deduplicated: their context is what differs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from kbbuild.text.lines import is_cjk

NUM_PERM = 128
MIN_CHARS = 24  # normalised characters below which a chunk is never treated as a duplicate
NEAR_KNOWN_LIMIT = 100_000  # remembered near matches (digest -> original) before the memo starts afresh
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def shingles(text: str) -> set[str]:
    cjk = sum(is_cjk(ch) for ch in text)
    size = 3 if cjk > 0.3 * max(len(text), 1) else 5
    return {text[i : i + size] for i in range(max(len(text) - size + 1, 1))}


@dataclass(frozen=True)
class Original:
    chunk_id: str
    source: str


@dataclass(frozen=True)
class Match:
    original: Original
    near: bool


class DuplicateIndex:
    """Exact hashes and MinHash LSH over the chunks stored so far (``near=False``: hashes only)."""

    def __init__(self, near: bool, threshold: float) -> None:
        self.near = near
        self.threshold = threshold
        self._exact: dict[str, Original] = {}
        self._originals: dict[str, Original] = {}
        self._numbers: dict[str, Counter[str]] = {}
        self._minhashes: dict[str, object] = {}
        # Texts already found near an original, by digest: a log repeats its few distinct chunks
        # thousands of times, and a MinHash per repeat was most of a 200 MB file's time.
        self._near_known: dict[str, Original] = {}
        self._lsh = None
        if near:
            from datasketch import MinHashLSH

            # LSH set below the threshold finds candidates generously; the MinHash estimate decides.
            self._lsh = MinHashLSH(threshold=max(threshold - 0.15, 0.5), num_perm=NUM_PERM)

    def __len__(self) -> int:
        return len(self._originals)

    def _minhash(self, text: str):
        from datasketch import MinHash

        minhash = MinHash(num_perm=NUM_PERM)
        minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
        return minhash

    def match(self, text: str) -> Match | None:
        norm = normalise(text)
        if len(norm) < MIN_CHARS:
            return None
        original = self._exact.get(hashlib.sha1(norm.encode()).hexdigest())
        if original is not None:
            return Match(original, near=False)
        if self._lsh is None:
            return None
        digest = hashlib.sha1(norm.encode()).hexdigest()
        known = self._near_known.get(digest)
        if known is not None and known.chunk_id in self._originals:
            return Match(known, near=True)  # the same text was matched before: no MinHash again
        minhash = self._minhash(norm)
        numbers = Counter(_NUMBER.findall(norm))
        for key in sorted(self._lsh.query(minhash)):
            close = self._minhashes[key].jaccard(minhash) >= self.threshold
            if close and self._numbers[key] == numbers:
                if len(self._near_known) >= NEAR_KNOWN_LIMIT:
                    self._near_known.clear()
                self._near_known[digest] = self._originals[key]
                return Match(self._originals[key], near=True)
        return None

    def remove(self, chunk_ids: list[str]) -> None:
        """Undo ``add`` for the chunks of a file that failed after they were indexed."""
        for chunk_id in chunk_ids:
            original = self._originals.pop(chunk_id, None)
            if original is None:
                continue
            for digest in [d for d, o in self._exact.items() if o == original]:
                del self._exact[digest]
            if self._lsh is not None and chunk_id in self._minhashes:
                self._lsh.remove(chunk_id)
                del self._minhashes[chunk_id]
                del self._numbers[chunk_id]

    def add(self, chunk_id: str, source: str, text: str) -> None:
        norm = normalise(text)
        if len(norm) < MIN_CHARS or chunk_id in self._originals:
            return
        original = Original(chunk_id, source)
        self._originals[chunk_id] = original
        self._exact.setdefault(hashlib.sha1(norm.encode()).hexdigest(), original)
        if self._lsh is not None:
            minhash = self._minhash(norm)
            self._minhashes[chunk_id] = minhash
            self._numbers[chunk_id] = Counter(_NUMBER.findall(norm))
            self._lsh.insert(chunk_id, minhash)
