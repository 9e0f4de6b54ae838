"""OCR of scanned pages with PaddleOCR's models (ONNX wheels): text, boxes, spacing, tables."""

from __future__ import annotations

import io

import pytest

from kbbuild.config import Settings
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.pipeline.discover import discover
from kbbuild.plugins import Registry, make_plugin_manager
from kbbuild.providers import ParseContext
from kbbuild.records import ElementKind, ExtractionMethod
from kbbuild.text.spacing import fix_spacing

from .conftest import DATA, SAMPLES
from .pdfmaker import figure_pdf

pytestmark = pytest.mark.slow


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / reference length, whitespace ignored."""
    ref = "".join(reference.split())
    hyp = "".join(hypothesis.split())
    previous = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        current = [i]
        for j, hc in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (rc != hc)))
        previous = current
    return previous[-1] / max(len(ref), 1)


@pytest.fixture(scope="module")
def registry():
    return Registry.from_plugin_manager(make_plugin_manager())


def _parse(path, registry, settings=None):
    settings = settings or Settings()
    source = discover(path, settings, {"pdf"}).sources[0]
    return PdfParser().parse(source, ParseContext(settings, registry=registry))


def test_scanned_page_text_matches_the_typed_original(registry):
    doc = _parse(SAMPLES / "riverside_scanned_notice.pdf", registry)
    assert doc.pages[1].ocr and doc.pages_ocr == (2,) and doc.pages_without_text == ()
    ocr_elements = [e for e in doc.elements if e.page == 2]
    assert ocr_elements and all(e.method is ExtractionMethod.OCR for e in ocr_elements)
    assert all(e.confidence is not None and 0.5 <= e.confidence <= 1 for e in ocr_elements)
    text = "\n".join(e.text for e in ocr_elements)
    truth = (DATA / "groundtruth" / "riverside_scanned_notice.p2.txt").read_text(encoding="utf-8")
    assert cer(truth, text) < 0.03  # English and Chinese lines, in reading order
    # Words, not just characters: the spaces OCR drops are back.
    for phrase in ("NOTICE OF WATER SUPPLY INTERRUPTION", "from 08:00 to 16:00", "while the main valve"):
        assert phrase in " ".join(text.split()), phrase


def test_ocr_elements_have_kinds_boxes_and_reading_order(registry):
    doc = _parse(SAMPLES / "riverside_scanned_notice.pdf", registry)
    page = doc.pages[1]
    elements = [e for e in doc.elements if e.page == 2]
    heading = elements[0]
    assert heading.kind is ElementKind.HEADING and "WATER SUPPLY" in heading.text
    for element in elements:
        box = element.bbox
        assert 0 <= box.x0 < box.x1 <= page.width + 1 and 0 <= box.y0 < box.y1 <= page.height + 1
    tops = [e.bbox.y0 for e in elements]
    assert tops == sorted(tops)  # one column: reading order is top to bottom
    assert elements[-1].text.endswith("4410")


def test_scanned_table_becomes_a_markdown_table_with_html(registry, tmp_path):
    """A ruled table page rendered to an image-only PDF: SLANet recovers rows and cells."""
    import pypdfium2
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    page = pypdfium2.PdfDocument(str(SAMPLES / "harbor_q3_2026_results.pdf"))[0]
    image = page.render(scale=150 / 72).to_pil().convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    scanned = tmp_path / "scanned_table.pdf"
    pdf = canvas.Canvas(str(scanned), pagesize=A4)
    pdf.drawImage(ImageReader(Image.open(buffer)), 0, 0, width=A4[0], height=A4[1])
    pdf.showPage()
    pdf.save()
    doc = _parse(scanned, registry)
    tables = [e for e in doc.elements if e.kind is ElementKind.TABLE]
    assert len(tables) == 1
    table = tables[0]
    assert table.method is ExtractionMethod.TABLE and table.html and "<td" in table.html
    rows = [r for r in table.text.splitlines() if not r.startswith("|---")]
    assert rows[0].replace(" ", "").startswith("|Region|")
    apac = next(r for r in rows if "APAC" in r)
    assert [c.strip() for c in apac.strip("|").split("|")] == ["APAC", "11.3", "14.2", "+25.7%"]


def test_spacing_fix_is_conservative():
    assert fix_spacing("NOTICE OFWATER SUPPLY") == "NOTICE OF WATER SUPPLY"
    assert fix_spacing("pressuresensor drift") == "pressure sensor drift"
    assert fix_spacing("from.08:00 while.the") == "from 08:00 while the"
    for untouched in (
        "Zhangjiang Hi-Tech Park",
        "www.example.com",
        "file.txt",
        "No.5 and Fig.3",
        "NW-CAL-7",
        "停水通知：河畔园区C栋",
        "e.g. and i.e.",
    ):
        assert fix_spacing(untouched) == untouched


def _figure_pdf(tmp_path):
    from PIL import Image, ImageDraw, ImageFont

    chart = Image.new("RGB", (900, 500), "white")
    draw = ImageDraw.Draw(chart)
    draw.rectangle((100, 150, 300, 450), fill=(90, 120, 200))
    draw.rectangle((500, 250, 700, 450), fill=(200, 120, 90))
    draw.text((90, 40), "Pump failures by season", fill="black", font=ImageFont.load_default(size=44))
    intro = "Failures peak in winter, as the chart below shows for the last three years."
    return figure_pdf(tmp_path / "chart.pdf", chart, intro, "Figure 2: Failures per season.", 420, 250)


def test_text_inside_figures_is_ocred_only_when_asked(registry, tmp_path):
    path = _figure_pdf(tmp_path)
    plain = _parse(path, registry)
    figure = next(e for e in plain.elements if e.kind is ElementKind.FIGURE)
    assert figure.text == "" and figure.meta["caption"] == "Figure 2: Failures per season."
    settings = Settings()
    settings.ocr.figures = True
    read = next(e for e in _parse(path, registry, settings).elements if e.kind is ElementKind.FIGURE)
    assert "Pump failures by season" in read.text
    assert read.method is ExtractionMethod.OCR and read.confidence > 0.5


def test_paddleocr_backend_reads_the_scanned_page_offline(registry, tmp_path, monkeypatch, cli):
    """The second backend: PaddleOCR itself, on PP-OCRv4 model folders built from the wheel's files."""
    monkeypatch.setenv("KBBUILD_CACHE", str(tmp_path / "cache"))
    settings = Settings()
    settings.ocr.engine = "paddleocr"
    doc = _parse(SAMPLES / "riverside_scanned_notice.pdf", registry, settings)
    elements = [e for e in doc.elements if e.page == 2]
    assert elements and all(e.meta["ocr"].startswith("paddleocr") for e in elements)
    truth = (DATA / "groundtruth" / "riverside_scanned_notice.p2.txt").read_text(encoding="utf-8")
    assert cer(truth, "\n".join(e.text for e in elements)) < 0.05
    assert (tmp_path / "cache" / "paddle-models" / "PP-OCRv4_mobile_rec" / "inference.yml").is_file()
    config = tmp_path / "kbbuild.toml"
    config.write_text('[ocr]\nengine = "paddleocr"\n')
    doctor = cli("doctor", "--config", config)
    assert doctor.exit_code == 0
    assert next(line for line in doctor.output.splitlines() if " paddleocr " in line).startswith("ok   *")


@pytest.mark.parametrize("engine", ["rapidocr", "paddleocr"])
def test_engines_keep_most_spaces_before_any_dictionary_repair(registry, tmp_path, monkeypatch, engine):
    """Spaces are lost in the crop, not the decoder: with PaddleOCR's tight boxes (unclip 1.5) only
    2 of the page's 33 English words came out separated (rapidocr 15); kbbuild grows boxes by 1.8."""
    monkeypatch.setenv("KBBUILD_CACHE", str(tmp_path / "cache"))
    settings = Settings()
    settings.ocr.engine = engine
    settings.ocr.fix_english_spacing = False
    doc = _parse(SAMPLES / "riverside_scanned_notice.pdf", registry, settings)
    words = set(" ".join(e.text for e in doc.elements if e.page == 2).split())
    truth = (DATA / "groundtruth" / "riverside_scanned_notice.p2.txt").read_text(encoding="utf-8")
    english = [w for w in truth.split() if w.isascii() and w.isalpha()]
    found = sum(w in words for w in english)
    assert len(english) > 20 and found / len(english) > 0.6, (found, len(english))


ZH_HANT_SCANS = DATA.parent.parent.parent / "shared" / "eval" / "parse" / "zh-hant-filings" / "finance"


def test_auto_picks_the_multilingual_models_when_their_wheel_is_installed(monkeypatch):
    from kbbuild.config import OcrSettings
    from kbbuild.errors import ConfigError
    from kbbuild.ocr import rapid

    engine = rapid.RapidOcr(OcrSettings())
    assert engine.models == "pp-ocrv6" and engine.version.endswith("+pp-ocrv6")  # make dev installs the wheel
    assert rapid.RapidOcr(OcrSettings(models="pp-ocrv4")).version.endswith("+pp-ocrv4")
    monkeypatch.setattr(rapid, "v6_models", lambda: None)  # a machine without the wheel
    assert rapid.RapidOcr(OcrSettings()).models == "pp-ocrv4"
    pinned = rapid.RapidOcr(OcrSettings(models="pp-ocrv6"))
    assert pinned.unavailable_reason() is not None
    with pytest.raises(ConfigError, match=r"needs the rapidocr==3\.10\.0 wheel"):
        rapid._rapidocr.__wrapped__(1.8, False, "pp-ocrv6")  # past the per-process cache


@pytest.mark.parametrize("models", ["pp-ocrv4", "pp-ocrv6"])
def test_both_model_sets_read_the_english_and_chinese_scan(registry, models):
    settings = Settings()
    settings.ocr.models = models
    doc = _parse(SAMPLES / "riverside_scanned_notice.pdf", registry, settings)
    text = "\n".join(e.text for e in doc.elements if e.page == 2)
    truth = (DATA / "groundtruth" / "riverside_scanned_notice.p2.txt").read_text(encoding="utf-8")
    assert cer(truth, text) < 0.03, text


@pytest.mark.skipif(not ZH_HANT_SCANS.is_dir(), reason="../shared/eval (the zh-Hant scans) is not on this machine")
def test_traditional_chinese_scans_are_read_by_the_multilingual_models(registry, tmp_path):
    """764.pdf is an image-only auditor's report in Traditional Chinese. PP-OCRv4's character list has
    no 閱 or 併 (it reads 核閣, 合饼); the hand-made truth is in bench/ocr_truth (bench/ocr_cer.py)."""
    import shutil

    shutil.copy(ZH_HANT_SCANS / "764.pdf", tmp_path / "764.pdf")
    text = {}
    for models in ("pp-ocrv4", "pp-ocrv6"):
        settings = Settings()
        settings.ocr.models = models
        doc = _parse(tmp_path / "764.pdf", registry, settings)
        text[models] = "".join("".join(e.text.split()) for e in doc.elements)
    assert "核閱" not in text["pp-ocrv4"] and "核閣" in text["pp-ocrv4"]
    assert text["pp-ocrv6"].count("核閱") >= 8 and text["pp-ocrv6"].count("合併") >= 10
    truth = (DATA.parent.parent / "bench" / "ocr_truth" / "764.txt").read_text(encoding="utf-8")
    assert "聯發科技股份有限公司及其子公司" in text["pp-ocrv6"] and len(truth) > 600
