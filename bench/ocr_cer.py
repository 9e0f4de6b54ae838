"""Character error rate of kbbuild's OCR on the two scanned Traditional Chinese filings of
../shared/eval/parse/zh-hant-filings (764.pdf, 98.pdf), for each set of PaddleOCR text models.

The ground truth (``bench/ocr_truth/*.txt``) was made by hand for this benchmark: the printed body of
each page (title to date line; letterhead, seals and footer left out), typed from the page image and
checked line by line against it. The OCR text is aligned to it semi-globally (text OCR found before
and after the body costs nothing; anything inside it does), after NFKC and without whitespace, and
○ is read as 〇 (the same glyph on these pages). Also counted: the words that the Simplified model
misreads (核閱, 合併, 準則).

    python bench/ocr_cer.py                      # both pages, pp-ocrv4 and pp-ocrv6, [ocr] dpi
    python bench/ocr_cer.py --models pp-ocrv6 --dpi 200
"""

from __future__ import annotations

import argparse
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FILINGS = ROOT.parent / "shared" / "eval" / "parse" / "zh-hant-filings" / "finance"
TRUTH = ROOT / "bench" / "ocr_truth"
WORDS = ("核閱", "合併", "準則")


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).replace("○", "〇").split())


def semi_global_distance(truth: str, found: str) -> int:
    """Edits to turn ``truth`` into some substring of ``found``."""
    previous = [0] * (len(found) + 1)
    for i, expected in enumerate(truth, start=1):
        current = [i] + [0] * len(found)
        for j, got in enumerate(found, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (expected != got))
        previous = current
    return min(previous)


def main() -> None:
    from kbbuild.config import OcrSettings
    from kbbuild.ocr.rapid import RapidOcr

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="pp-ocrv4,pp-ocrv6")
    parser.add_argument("--dpi", type=int, default=OcrSettings().dpi)
    options = parser.parse_args()
    import pypdfium2

    print(f"{'page':6} {'models':9} {'CER':>6} {'edits':>6} {'chars':>6} {'s':>5}  " + " ".join(WORDS))
    for truth_file in sorted(TRUTH.glob("*.txt")):
        truth = normalise(truth_file.read_text(encoding="utf-8"))
        pdf = pypdfium2.PdfDocument(str(FILINGS / f"{truth_file.stem}.pdf"))
        image = np.asarray(pdf[0].render(scale=options.dpi / 72).to_pil().convert("RGB"))
        for models in options.models.split(","):
            engine = RapidOcr(OcrSettings(models=models))
            started = time.perf_counter()
            lines = engine.recognize(image)
            seconds = time.perf_counter() - started
            lines.sort(key=lambda line: (round(line.bbox.y0 / 12), line.bbox.x0))
            found = normalise("".join(line.text for line in lines))
            edits = semi_global_distance(truth, found)
            counts = " ".join(f"{found.count(w)}/{truth.count(w)}" for w in WORDS)
            rate = edits / len(truth)
            print(f"{truth_file.stem:6} {models:9} {rate:6.3f} {edits:6} {len(truth):6} {seconds:5.1f}  {counts}")


if __name__ == "__main__":
    main()
