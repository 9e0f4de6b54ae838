"""Which scripts a corpus is written in, sampled before any file is parsed: a new KB's embedding
model (``[embed] model = "auto"``) depends on it.

The offline English model (all-MiniLM-L6-v2) cannot read Chinese at all (its similarities between
unrelated Chinese texts are 0.75-0.90), while the offline multilingual one (multilingual-e5-small)
reads both but is slower and, on English SEC filings, somewhat weaker. The costs are lopsided: a
Chinese file in an English-model KB can never be found by meaning, an English file in a multilingual
KB is found a little less well. So one file that is mainly Chinese, Japanese or Korean among those
sampled is enough to choose the multilingual model.

The sample is cheap and never fails a run: up to ``SAMPLE_FILES`` files spread evenly over the
corpus, the first pages of a PDF's text layer or the first 64 KB of other text, each read under a
broad ``except`` (the parse workers, with their limits, are where a bad file is reported).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kbbuild.records import SourceFile

SAMPLE_FILES = 24
SAMPLE_BYTES = 64 * 1024
SAMPLE_PDF_PAGES = 2
MAIN_SHARE = 0.3  # a file is mainly CJK when this share of its letters are CJK characters
MIN_LETTERS = 20  # too little text to say anything

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_TAG = re.compile(r"<[^>]{0,400}>")
_OFFICE_TEXT = ("word/document.xml", "ppt/slides/slide1.xml", "ppt/slides/slide2.xml", "xl/sharedStrings.xml")


@dataclass(frozen=True)
class LanguageSample:
    """How many sampled files had text, and how many of them are mainly CJK."""

    files: int
    cjk_files: int

    @property
    def has_cjk(self) -> bool:
        return self.cjk_files > 0


def _pdf_text(path: Path) -> str:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        texts = []
        for index in range(min(len(pdf), SAMPLE_PDF_PAGES)):
            page = pdf[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range()[:SAMPLE_BYTES])
            textpage.close()
            page.close()
        return "\n".join(texts)
    finally:
        pdf.close()


def _office_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for name in _OFFICE_TEXT:
            if name in names:
                with archive.open(name) as member:
                    return _TAG.sub(" ", member.read(SAMPLE_BYTES).decode("utf-8", "ignore"))
    return ""


def _plain_text(path: Path, fmt: str) -> str:
    """Text, Markdown, HTML, mail: decoded as the text reader would (BOM, UTF-8, then detection)."""
    from kbbuild.parse.markup.plaintext import detect_encoding

    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
    return _TAG.sub(" ", raw.decode(detect_encoding(raw, fmt), "ignore"))


def sample_text(source: SourceFile) -> str:
    """Some of the file's text, or "" when it cannot be had cheaply."""
    path = Path(source.path)
    try:
        if source.format == "pdf":
            return _pdf_text(path)
        if source.format in ("docx", "pptx", "xlsx"):
            return _office_text(path)
        return _plain_text(path, source.format)
    except Exception:  # a sample, not a reading: the workers report what is wrong with the file
        return ""


def is_mainly_cjk(text: str) -> bool | None:
    """True/False for a text with enough letters to tell, None otherwise."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_LETTERS:
        return None
    return len(_CJK.findall(text)) >= MAIN_SHARE * letters


def sample_languages(sources: list[SourceFile]) -> LanguageSample:
    ordered = sorted(sources, key=lambda source: source.relpath)
    step = max(1, len(ordered) // SAMPLE_FILES)
    files = cjk = 0
    for source in ordered[::step][:SAMPLE_FILES]:
        verdict = is_mainly_cjk(sample_text(source))
        if verdict is None:
            continue
        files += 1
        cjk += verdict
    return LanguageSample(files=files, cjk_files=cjk)
