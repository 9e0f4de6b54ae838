"""Text layers that decode to nonsense (fonts with unmapped glyphs) are told from text and read by OCR."""

from __future__ import annotations

import random
import string
from collections import defaultdict
from pathlib import Path

import pytest

from kbbuild.config import Settings
from kbbuild.parse.pdf.garbled import garbled_reason, unreadable_share
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.parse.pdf.textlayer import read_text_layer
from kbbuild.pipeline.discover import discover
from kbbuild.plugins import Registry, make_plugin_manager
from kbbuild.providers import ParseContext
from kbbuild.records import ElementKind, ExtractionMethod

from .conftest import DATA, SAMPLES
from .pdfmaker import GLYPH_SHIFT, unmapped_glyphs_pdf

COVER = [
    "Turbine maintenance guide",
    "",
    "This guide covers the yearly service of the wind turbines at the",
    "northern site. Each section lists the tools, the checks and the records",
    "that the service team keeps for the operator.",
]
SHIFTED = [
    "The turbine blades must be inspected every six months for cracks,",
    "erosion of the leading edge and loose bolts at the root. Replace the",
    "bearing seals when the vibration exceeds 7 mm/s or when grease leaks",
    "from the hub. Record every inspection in the maintenance log.",
]
BODY = [
    "Gearbox oil is sampled twice a year and changed when the particle count",
    "rises above the limit in the service manual. The technician records the",
    "sample number, the oil temperature and the hours run since the last change,",
    "and sends the sample to the laboratory within two days of taking it.",
    "The yaw brake pads are measured at every visit and replaced in pairs.",
]
SIDEBAR = ["Safety first", "Lock the rotor", "before entry"]
_RNG = random.Random(7)


def shift(text: str, keep_spaces: bool = False) -> str:
    """What a text extractor returns for ``text`` set in a font whose codes are code points minus 29."""
    return "".join(c if c.isspace() and (keep_spaces or c != " ") else chr(ord(c) - GLYPH_SHIFT) for c in text)


def sample_pages() -> dict[tuple[str, int], str]:
    """Each page's text-layer text (elements joined) for every bundled sample PDF."""
    pages: dict[tuple[str, int], list[str]] = defaultdict(list)
    for pdf in sorted(SAMPLES.glob("*.pdf")):
        elements, _, _ = read_text_layer(pdf, 1.15, lambda n: None, 1)
        for element in elements:
            if element.text:
                pages[(pdf.name, element.page or 0)].append(element.text)
    return {key: "\n".join(texts) for key, texts in pages.items()}


@pytest.fixture(scope="module")
def real_pages() -> dict[tuple[str, int], str]:
    return sample_pages()


@pytest.fixture(scope="module")
def turbine_pdf(tmp_path_factory) -> Path:
    """Page 1 plain text; page 2 all in the shifted font; page 3 plain body with a shifted sidebar."""
    return unmapped_glyphs_pdf(
        tmp_path_factory.mktemp("garbled") / "turbine.pdf",
        [
            [(False, 72, 760, COVER)],
            [(True, 72, 760, SHIFTED)],
            [(False, 72, 760, BODY), (True, 400, 560, SIDEBAR)],
        ],
    )


def _parse(path: Path, registry: Registry | None = None, engine: str = "pdfium"):
    settings = Settings()
    settings.parse.text_engine = engine
    source = discover(path, settings, {"pdf"}).sources[0]
    return PdfParser().parse(source, ParseContext(settings, registry=registry))


# --- the detector on real text -------------------------------------------------------------------


def test_real_sample_text_is_never_flagged(real_pages):
    """English prose, the quarterly results tables, the Chinese travel policy: every page reads as text."""
    assert {name for name, _ in real_pages} >= {
        "northwind_field_manual.pdf",
        "harbor_q3_2026_results.pdf",
        "xinghe_travel_policy_zh.pdf",
        "lakeside_newsletter.pdf",
    }
    flagged = {key: garbled_reason(text) for key, text in real_pages.items() if garbled_reason(text)}
    assert flagged == {}
    assert all(unreadable_share(text) < 0.01 for text in real_pages.values())


def test_other_real_text_is_never_flagged():
    chinese_md = (SAMPLES / "xinghe_faq_zh.md").read_text(encoding="utf-8")
    ocr_truth = (DATA / "groundtruth" / "riverside_scanned_notice.p2.txt").read_text(encoding="utf-8")
    for text in (chinese_md, ocr_truth):
        assert garbled_reason(text) is None


@pytest.mark.parametrize(
    "text",
    [
        # a table of figures
        "Quarter Revenue Cost Margin\n"
        + "\n".join(f"Q{q} 2026 {1000 + 37 * q:,} {620 + 11 * q:,} 38.{q}%" for q in range(1, 5)),
        # code
        "def read_pages(path: Path, workers: int = 1) -> list[PageParts]:\n"
        "    with pdfplumber.open(str(path)) as pdf:\n"
        "        return [read_page(page, number) for number, page in enumerate(pdf.pages, 1)]\n"
        "    if not parts: raise InputError('corrupt PDF: no pages found')",
        # hex dump, part numbers, base64: letters mixed with digits are not judged as words
        " ".join(f"{_RNG.getrandbits(32):08X}" for _ in range(60)),
        " ".join("".join(_RNG.choices(string.ascii_uppercase + string.digits, k=8)) for _ in range(80)),
        "".join(_RNG.choices(string.ascii_letters + string.digits + "+/", k=2000)),
        # short pages, page numbers, Chinese and mixed text
        "7KH",
        "Page 3 of 40",
        "— 12 —",
        "第三章 住宿标准\n员工出差住宿费用按照城市等级和职级标准执行，超标部分由个人承担。" * 3,
        "营业收入 Revenue 1,234.5 万元；净利润 Net profit 210.3 万元（同比增长 12.5%）。" * 4,
        # all-capitals legal boilerplate is still a language
        "THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT "
        "NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE.",
        # a bullet font's private-use bullets and one control-code bullet per item
        "\n".join(f"\uf0b7 Item {n}: check the valve and record the pressure" for n in range(8)),
        "\n".join(f"r\x01 Database topic number {n} and what it covers" for n in range(8)),
    ],
)
def test_legitimate_text_is_not_flagged(text):
    assert garbled_reason(text) is None


# --- the detector on nonsense --------------------------------------------------------------------


def test_the_classic_shift_is_flagged():
    assert shift("The turbine") == "7KH\x03WXUELQH"
    text = shift(" ".join(SHIFTED))
    assert "control codes" in garbled_reason(text)
    pdfminer_text = text.replace("\x03", "(cid:3)")
    assert garbled_reason(pdfminer_text) is not None


def test_shifted_sample_pages_are_flagged_by_every_signal(real_pages):
    """Every English sample page, shifted as the classic subset fonts do, is flagged: with pdfium's
    control codes, with pdfminer's (cid:3) spaces, and by the letter statistics alone when the
    producer kept the spaces and the control codes are taken out."""
    english = {key: text for key, text in real_pages.items() if not key[0].startswith("xinghe")}
    judged = 0
    for key, text in english.items():
        if len([c for c in text if c.isalpha()]) < 100:
            continue  # a page with a line or two of text
        judged += 1
        assert garbled_reason(shift(text)), key
        assert garbled_reason(shift(text).replace("\x03", "(cid:3)")), key
        letters_only = "".join(c for c in shift(text, keep_spaces=True) if c.isspace() or ord(c) >= 32)
        reason = garbled_reason(letters_only)
        assert reason and "spell no language" in reason, key
    assert judged >= 8


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("(cid:12)(cid:7)(cid:33) (cid:4)(cid:9)(cid:41)(cid:5) " * 4, "(cid:NN)"),
        ("\ue012\ue044\ue0a1 \ue003\ue019\ue020\ue007 " * 4, "private-use"),
        ("\ufffd\ufffd\ufffd \ufffd\ufffd " * 4, "U+FFFD"),
        # codes given in order of first use (another subset layout): T=1, h=2, e=3, space=4, ...
        ("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x03\x04\x0b\x0c\x0d\x0e\x0f\x03\x04" * 3, "control codes"),
    ],
)
def test_unmapped_codes_are_flagged(text, words):
    reason = garbled_reason(text)
    assert reason is not None and words in reason


# --- the PDF: a real font without a Unicode map ---------------------------------------------------


def test_the_test_pdf_shows_words_but_extracts_codes(turbine_pdf):
    import pypdfium2
    from pdfminer.high_level import extract_text

    pdf = pypdfium2.PdfDocument(str(turbine_pdf))
    try:
        extracted = pdf[1].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert "7KH" in extracted and "turbine" not in extracted
    mined = extract_text(str(turbine_pdf), page_numbers=[1])
    assert "7KH(cid:3)WXUELQH" in mined and "turbine" not in mined


@pytest.mark.parametrize("engine", ["pdfium", "pdfminer"])
def test_without_ocr_the_garbage_is_dropped_and_reported(turbine_pdf, engine):
    doc = _parse(turbine_pdf, engine=engine)
    text = "\n".join(e.text for e in doc.elements)
    assert "7KH" not in text and "WXUELQH" not in text and "\x03" not in text and "(cid:" not in text
    assert "turbines at the" in text and "Gearbox oil is sampled" in text  # plain text stays
    first, second, third = doc.pages
    assert not first.needs_ocr and second.needs_ocr and not second.has_text_layer
    assert doc.pages_without_text == (2,)  # page 3 keeps its body text
    assert third.has_text_layer and 0 < third.garbage_ratio < 0.5
    assert any(w.startswith("page 2: text layer decodes to nonsense (unmapped glyphs") for w in doc.warnings)
    assert any(w.startswith("page 3: part of the text layer decodes to nonsense") for w in doc.warnings)
    assert any("not OCRed" in w for w in doc.warnings)


@pytest.mark.slow
def test_garbled_pages_are_read_by_ocr(turbine_pdf):
    doc = _parse(turbine_pdf, Registry.from_plugin_manager(make_plugin_manager()))
    assert doc.pages_ocr == (2, 3) and doc.pages_without_text == ()
    assert not doc.pages[0].ocr
    page2 = [e for e in doc.elements if e.page == 2]
    assert page2 and all(e.method is ExtractionMethod.OCR for e in page2)
    text2 = " ".join(" ".join(e.text for e in page2).split())
    for phrase in ("The turbine blades must be inspected", "bearing seals", "maintenance log"):
        assert phrase in text2, phrase
    everything = "\n".join(e.text for e in doc.elements)
    assert "7KH" not in everything and "WXUELQH" not in everything and "\x03" not in everything
    assert "page 2: text layer decodes to nonsense (unmapped glyphs" in "\n".join(doc.warnings)
    assert any(w.startswith("page 2:") and w.endswith("; read by OCR") for w in doc.warnings)
    # Page 3: the body stays as the text layer gave it; OCR reads only the sidebar, once.
    page3 = [e for e in doc.elements if e.page == 3]
    body = [e for e in page3 if e.method is ExtractionMethod.TEXT_LAYER]
    read = [e for e in page3 if e.method is ExtractionMethod.OCR]
    assert [e.text for e in body] == ["\n".join(BODY)]
    sidebar = " ".join(e.text for e in read)
    assert "".join(sidebar.split()) == "".join("".join(SIDEBAR).split())  # OCR may glue a word pair
    assert "Lock the rotor" in " ".join(sidebar.split())
    assert all(e.kind is not ElementKind.FIGURE for e in read)
    assert any(
        w.startswith("page 3: part of the text layer") and w.endswith("those blocks read by OCR") for w in doc.warnings
    )


# --- the fast counts are the per-character rules ---------------------------------------------------


def _reference_counts(text: str) -> tuple[int, int, int, int]:
    """The statistics the module docstring defines, one character at a time: glyphs (a (cid:NN)
    counting as one), unmapped, unreadable and letters."""
    import re

    cid = re.compile(r"\(cid:\d+\)")
    cids = len(cid.findall(text))
    glyphs = [c for c in cid.sub(" ", text) if not c.isspace()]

    def control(c: str) -> bool:
        return (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) and not c.isspace()

    def unmapped(c: str) -> bool:
        return ord(c) == 0xFFFD or 0xE000 <= ord(c) <= 0xF8FF or ord(c) >= 0xF0000

    return (
        len(glyphs) + cids,
        cids + sum(map(unmapped, glyphs)),
        cids + sum(control(c) or c == "\ufffd" for c in glyphs),
        sum(c.isalpha() for c in glyphs),
    )


def test_the_fast_counts_equal_the_per_character_rules(real_pages):
    """The detector counts with regular expressions and translate tables; on real pages, on shifted
    ones and on random mixes of every kind of character, its counts are the rules' one by one."""
    from kbbuild.parse.pdf.garbled import _Counts

    alphabet = (
        [chr(c) for c in range(0xA0)]
        + list("é中文Ωß\u00a0\u2028\u3000\ufffd\ue000\uf0b7\U000f0001²Ⅻ٣")
        + ["(cid:3)", "(cid:123)", " the ", "Revenue"]
    )
    rng = random.Random(7)
    texts = [*real_pages.values(), "".join(chr(ord(c) - GLYPH_SHIFT) for c in " ".join(SHIFTED))]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(400)]
    for text in texts:
        counts = _Counts(text)
        assert (counts.total, counts.unmapped(), counts.unreadable(), counts.letters()) == _reference_counts(text)
