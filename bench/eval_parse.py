"""Parsing quality of kbbuild's PDF parser on the public sets in ../shared/eval/parse.

    python bench/eval_parse.py                 # all three sets
    python bench/eval_parse.py --set olmocr --verbose

- olmocr: olmOCR-bench sample, 21 one-page PDFs with 99 unit tests (present / absent / order /
  table / math); reports the pass rate per type. Page text = the parsed page's elements in reading
  order (tables as Markdown), page furniture excluded.
- omnidocbench: 18 page images, each wrapped in an image-only PDF so that it goes through OCR;
  reports the normalised edit distance (0 = identical) of the page text against the expected
  Markdown, per page and on average.
- icdar2013: ICDAR 2013 table competition PDFs; a ground-truth table region counts as found when a
  kbbuild table element on the same page overlaps it with IoU >= 0.5; reports recall and precision.
- ocr-spacing: word recall of English OCR pages with and without the restoration of dropped
  spaces (OmniDocBench's English pages and the bundled scanned sample).

The labels are the sets' own; nothing here is tuned per document.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

from kbbuild.config import Settings
from kbbuild.parse.pdf.plugin import PdfParser
from kbbuild.pipeline.discover import discover
from kbbuild.plugins import Registry, make_plugin_manager
from kbbuild.providers import ParseContext
from kbbuild.records import Document, ElementKind

ROOT = Path(__file__).resolve().parent.parent
PARSE = ROOT.parent / "shared" / "eval" / "parse"
SETTINGS = Settings()
REGISTRY = Registry.from_plugin_manager(make_plugin_manager())
PARSER = PdfParser()


def parse(path: Path, settings: Settings = SETTINGS) -> Document:
    document = PARSER.parse(discover(path, settings, {"pdf"}).sources[0], ParseContext(settings, registry=REGISTRY))
    for cleaner in REGISTRY.cleaners:
        document = cleaner.clean(document, settings)
    return document


def page_text(document: Document, page: int) -> str:
    return "\n".join(e.text for e in document.elements if e.page == page and not e.kind.is_furniture and e.text.strip())


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "‐": "-", "\u00a0": " "})


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = re.sub(r"[*_#`]", "", text)
    return " ".join(text.split())


def approx_find(pattern: str, text: str, max_diffs: int) -> int:
    """End index of the first substring of ``text`` within ``max_diffs`` edits of ``pattern``, or -1
    (Sellers' algorithm: edit distance where the match may start anywhere in the text)."""
    if max_diffs == 0:
        index = text.find(pattern)
        return index + len(pattern) if index >= 0 else -1
    previous = list(range(len(pattern) + 1))
    for j, tc in enumerate(text, 1):
        current = [0]
        for i, pc in enumerate(pattern, 1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (pc != tc)))
        if current[-1] <= max_diffs:
            return j
        previous = current
    return -1


def markdown_tables(text: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|") and line.endswith("|"):
            if not re.fullmatch(r"\|(?:-+\|)+", line):
                current.append([normalise(c) for c in line.strip("|").split(" | ")])
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def table_test(test: dict, text: str) -> bool:
    target = normalise(test["cell"])
    for table in markdown_tables(text):
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                if cell != target:
                    continue
                checks = {
                    "up": table[r - 1][c] if r > 0 and c < len(table[r - 1]) else None,
                    "down": table[r + 1][c] if r + 1 < len(table) and c < len(table[r + 1]) else None,
                    "left": row[c - 1] if c > 0 else None,
                    "right": row[c + 1] if c + 1 < len(row) else None,
                    "top_heading": table[0][c] if c < len(table[0]) else None,
                    "left_heading": row[0],
                }
                if all(checks[k] == normalise(test[k]) for k in checks if test.get(k)):
                    return True
    return False


def olmocr(verbose: bool) -> dict:
    folder = PARSE / "olmocr-sample"
    tests = [json.loads(line) for line in (folder / "dataset.jsonl").read_text().splitlines() if line.strip()]
    texts: dict[str, str] = {}
    for name in sorted({t["pdf"] for t in tests}):
        texts[name] = page_text(parse(folder / "pdfs" / name), 1)
    results: dict[str, list[bool]] = {}
    for test in tests:
        raw = texts[test["pdf"]]
        text = normalise(raw)
        diffs = int(test.get("max_diffs", 0))
        kind = test["type"]
        if kind == "present":
            ok = approx_find(normalise(test["text"]), text, diffs) >= 0
        elif kind == "absent":
            ok = approx_find(normalise(test["text"]), text, diffs) < 0
        elif kind == "order":
            before = approx_find(normalise(test["before"]), text, diffs)
            after = approx_find(normalise(test["after"]), text, diffs)
            ok = before >= 0 and after >= 0 and before < after
        elif kind == "table":
            ok = table_test(test, raw)
        else:  # math: kbbuild does not write LaTeX; counted honestly as a failure unless found verbatim
            ok = approx_find(normalise(test.get("math", "")), text, 0) >= 0
        results.setdefault(kind, []).append(ok)
        if verbose and not ok:
            print(f"FAIL {test['id']} ({kind})")
    summary = {kind: f"{sum(v)}/{len(v)}" for kind, v in sorted(results.items())}
    total = [ok for v in results.values() for ok in v]
    summary["all"] = f"{sum(total)}/{len(total)} = {sum(total) / len(total):.1%}"
    return summary


def omnidocbench(verbose: bool) -> dict:
    from PIL import Image
    from rapidfuzz.distance import Levenshtein

    folder = PARSE / "omnidocbench-demo"
    distances = {}
    with tempfile.TemporaryDirectory() as tmp:
        for image_path in sorted((folder / "images").glob("*.jpg")):
            expected = folder / "mds" / (image_path.stem + ".md")
            if not expected.exists():
                continue
            pdf = Path(tmp) / (image_path.stem + ".pdf")
            Image.open(image_path).convert("RGB").save(pdf, "PDF", resolution=150.0)
            got = normalise(page_text(parse(pdf), 1)).replace(" ", "")
            want = normalise(re.sub(r"<[^>]+>|\$[^$]*\$|!\[[^\]]*\]\([^)]*\)", " ", expected.read_text())).replace(
                " ", ""
            )
            distances[image_path.stem] = Levenshtein.normalized_distance(got, want)
            if verbose:
                print(f"{distances[image_path.stem]:.3f} {image_path.stem}")
    mean = sum(distances.values()) / max(len(distances), 1)
    return {"pages": len(distances), "mean_normalised_edit_distance": round(mean, 3)}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", normalise(text).lower())


def _word_recall(truth: str, text: str) -> tuple[int, int]:
    from collections import Counter

    want, got = Counter(_words(truth)), Counter(_words(text))
    return sum(min(n, got[w]) for w, n in want.items()), sum(want.values())


def ocr_spacing(verbose: bool) -> dict:
    """English OCR drops spaces between words ("OFWATER"); a merged pair is a miss for full-text
    search. Word recall (share of the reference's words found as words) with and without the fix,
    on English image-only pages: OmniDocBench's English pages and kbbuild's scanned sample."""
    from PIL import Image

    folder = PARSE / "omnidocbench-demo"
    pages: list[tuple[Path, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for image_path in sorted((folder / "images").glob("*.jpg")):
            md = folder / "mds" / (image_path.stem + ".md")
            if not md.exists():
                continue
            truth = re.sub(r"<[^>]+>|\$[^$]*\$|!\[[^\]]*\]\([^)]*\)", " ", md.read_text())
            if sum(ch.isascii() for ch in truth) < 0.95 * max(len(truth), 1):
                continue  # not an English page
            pdf = Path(tmp) / (image_path.stem + ".pdf")
            Image.open(image_path).convert("RGB").save(pdf, "PDF", resolution=150.0)
            pages.append((pdf, truth))
        sample_truth = (ROOT / "tests" / "data" / "groundtruth" / "riverside_scanned_notice.p2.txt").read_text()
        pages.append((ROOT / "samples" / "riverside_scanned_notice.pdf", sample_truth))
        totals = {}
        for fix in (False, True):
            settings = SETTINGS.model_copy(deep=True)
            settings.ocr.fix_english_spacing = fix
            hit = total = 0
            for pdf, truth in pages:
                document = parse(pdf, settings)
                page = max(p.number for p in document.pages)
                h, t = _word_recall(truth, page_text(document, page))
                hit, total = hit + h, total + t
                if verbose:
                    print(f"fix={fix} {h}/{t} {pdf.name}")
            totals["with_fix" if fix else "without_fix"] = round(hit / max(total, 1), 4)
    return {"pages": len(pages), "word_recall": totals}


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def icdar2013(verbose: bool) -> dict:
    folder = PARSE / "icdar2013-tables"
    found = truth = predicted = matched_pred = 0
    for pdf in sorted(folder.glob("competition-dataset-*/*.pdf")):
        region_file = pdf.with_name(pdf.stem + "-reg.xml")
        if not region_file.exists():
            continue
        document = parse(pdf)
        heights = {p.number: p.height for p in document.pages}
        gt: list[tuple[int, tuple]] = []
        for region in ET.parse(region_file).getroot().iter("region"):
            page = int(region.get("page"))
            box = region.find("bounding-box")
            x1, y1, x2, y2 = (float(box.get(k)) for k in ("x1", "y1", "x2", "y2"))
            height = heights.get(page, 0)
            gt.append((page, (x1, height - y2, x2, height - y1)))
        tables = [
            (e.page, (e.bbox.x0, e.bbox.y0, e.bbox.x1, e.bbox.y1))
            for e in document.elements
            if e.kind is ElementKind.TABLE and e.bbox
        ]
        truth += len(gt)
        predicted += len(tables)
        hit = sum(any(p == q and _iou(box, other) >= 0.5 for q, other in tables) for p, box in gt)
        found += hit
        matched_pred += sum(any(p == q and _iou(box, other) >= 0.5 for q, other in gt) for p, box in tables)
        if verbose:
            print(f"{pdf.name}: {hit}/{len(gt)} found, {len(tables)} predicted")
    return {
        "tables": truth,
        "recall": round(found / max(truth, 1), 3),
        "precision": round(matched_pred / max(predicted, 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", choices=["olmocr", "omnidocbench", "icdar2013", "ocr-spacing"])
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--ocr-engine", choices=["rapidocr", "paddleocr"], help="default: kbbuild's default")
    parser.add_argument("--text-engine", choices=["pdfium", "pdfminer"], help="default: kbbuild's default")
    args = parser.parse_args()
    if args.ocr_engine:
        SETTINGS.ocr.engine = args.ocr_engine
    if args.text_engine:
        SETTINGS.parse.text_engine = args.text_engine
    if not PARSE.exists():
        raise SystemExit(f"{PARSE} not found: the evaluation sets live outside the repository")
    sets = {"olmocr": olmocr, "omnidocbench": omnidocbench, "icdar2013": icdar2013, "ocr-spacing": ocr_spacing}
    for name in args.set or list(sets):
        start = time.perf_counter()
        result = sets[name](args.verbose)
        print(f"{name}: {json.dumps(result, ensure_ascii=False)} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
