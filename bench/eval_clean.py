"""Header/footer removal on ../shared/eval: what furniture leaves the chunks, and what body text stays.

    python bench/eval_clean.py                      # all sets
    python bench/eval_clean.py --set olmocr --verbose

Every document is parsed once with stripping off; the cleaners and the chunker then run twice on
that same parse, with and without ``strip_furniture``, so the two columns differ only by cleaning.

- olmocr: the olmOCR-bench sample's 24 `absent` tests (headers, footers, page numbers of single
  pages) must not be found in the chunks; its 30 `present` tests (body sentences) must be.
- omnidocbench: the 46 labelled header/footer/page-number strings of the 18 page images (wrapped as
  image-only PDFs, so through OCR and the layout model) must be absent; body = share of the lines of
  the expected Markdown (`mds/`) found in the chunks.
- running: the running furniture of the financebench 10-Ks (the "Table of Contents" link at the top
  of every page; their page numbers cannot be told from table figures by a pattern) and of the
  caibao prospectus (header 招股意向书, footer 1-1-N): chunk lines that are exactly such furniture,
  with and without stripping; body = share of the other chunk lines of the unstripped run still
  found in the stripped chunks.

A furniture string counts as present when its normalised text is a substring of the normalised
chunk text; strings of 3 characters or fewer ("8", "xix") only when a chunk line is exactly that.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_parse import PARSE, PARSER, REGISTRY, approx_find, normalise

from kbbuild.config import Settings
from kbbuild.pipeline.discover import discover
from kbbuild.providers import ParseContext
from kbbuild.records import Document

QA = PARSE.parent / "qa"


def _parse(path: Path, strip: bool = True) -> Document:
    """Short documents get their furniture from the layout model while parsing, when stripping is on."""
    settings = Settings()
    settings.clean.strip_furniture = strip
    source = discover(path, settings, {"pdf"}).sources[0]
    return PARSER.parse(source, ParseContext(settings, registry=REGISTRY))


def _chunks(document: Document, strip: bool):
    settings = Settings()
    settings.clean.strip_furniture = strip
    settings.clean.dedup = "off"
    for cleaner in REGISTRY.cleaners:
        document = cleaner.clean(document, settings)
    return REGISTRY.named("chunkers", "structure").chunk(document, settings)


def _chunk_texts(document: Document, strip: bool) -> list[str]:
    return [chunk.text for chunk in _chunks(document, strip)]


def _present(furniture: str, texts: list[str]) -> bool:
    target = normalise(furniture)
    if len(target.replace(" ", "")) <= 3:
        return any(normalise(line) == target for text in texts for line in text.split("\n"))
    return target in normalise(" ".join(texts))


def olmocr(verbose: bool) -> dict:
    folder = PARSE / "olmocr-sample"
    tests = [json.loads(line) for line in (folder / "dataset.jsonl").read_text().splitlines() if line.strip()]
    result: dict[str, dict[str, int]] = {}
    for strip in (False, True):
        absent = present = absent_total = present_total = 0
        texts: dict[str, str] = {}
        for name in sorted({t["pdf"] for t in tests if t["type"] in ("absent", "present")}):
            chunks = _chunk_texts(_parse(folder / "pdfs" / name, strip), strip)
            texts[name] = normalise(" ".join(chunks))
        for test in tests:
            if test["type"] not in ("absent", "present"):
                continue
            found = approx_find(normalise(test["text"]), texts[test["pdf"]], int(test.get("max_diffs", 0))) >= 0
            if test["type"] == "absent":
                absent_total += 1
                absent += not found
                if verbose and strip and found:
                    print(f"  still present: {test['text'][:70]!r} ({test['pdf']})")
            else:
                present_total += 1
                present += found
        result["stripped" if strip else "kept"] = {
            "furniture_absent": f"{absent}/{absent_total}",
            "body_present": f"{present}/{present_total}",
        }
    return result


def omnidocbench(verbose: bool) -> dict:
    from PIL import Image

    folder = PARSE / "omnidocbench-demo"
    labels = [json.loads(line) for line in (folder / "header_footer.jsonl").read_text().splitlines() if line.strip()]
    by_image: dict[str, list[str]] = {}
    for label in labels:
        by_image.setdefault(Path(label["image"]).stem, []).append(label["text"])
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        pdfs: dict[str, Path] = {}
        for image_path in sorted((folder / "images").glob("*.jpg")):
            pdfs[image_path.stem] = Path(tmp) / (image_path.stem + ".pdf")
            Image.open(image_path).convert("RGB").save(pdfs[image_path.stem], "PDF", resolution=150.0)
        parsed = {stem: _parse(pdf) for stem, pdf in pdfs.items()}  # OCR pages: the layout model runs anyway
        for strip in (False, True):
            absent = total = body_found = body_total = 0
            for stem, document in parsed.items():
                texts = _chunk_texts(document, strip)
                for furniture in by_image.get(stem, []):
                    total += 1
                    gone = not _present(furniture, texts)
                    absent += gone
                    if verbose and strip and not gone:
                        print(f"  still present: {furniture[:60]!r} ({stem[:50]})")
                md = folder / "mds" / (stem + ".md")
                if md.exists():
                    joined = normalise(" ".join(texts)).replace(" ", "")
                    for line in md.read_text().splitlines():
                        line = normalise(re.sub(r"<[^>]+>|\$[^$]*\$|!\[[^\]]*\]\([^)]*\)|^#+|\|", " ", line))
                        line = line.replace(" ", "")
                        if len(line) >= 8:
                            body_total += 1
                            body_found += line in joined
            result["stripped" if strip else "kept"] = {
                "furniture_absent": f"{absent}/{total}",
                "body_lines_present": f"{body_found}/{body_total}",
            }
    return result


_RUNNING = {
    "financebench": re.compile(r"^table of contents$", re.IGNORECASE),
    "caibao": re.compile(r"^(?:.{0,20}招股意向书|1-1-\d+)$"),
}


def running(verbose: bool, max_files: int) -> dict:
    result = {}
    for name, pattern in _RUNNING.items():
        folder = QA / name / "pdfs"
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pdf")[:max_files]
        counts = {"furniture_lines": {}, "pages": 0}
        kept_body: list[str] = []
        stripped_text = ""
        for path in files:
            document = _parse(path)
            counts["pages"] += len(document.pages)
            for strip in (False, True):
                chunks = _chunks(document, strip)
                texts = [chunk.text for chunk in chunks]
                lines = [line.strip() for text in texts for line in text.split("\n") if line.strip()]
                key = "stripped" if strip else "kept"
                furniture = [line for line in lines if pattern.match(line)]
                counts["furniture_lines"][key] = counts["furniture_lines"].get(key, 0) + len(furniture)
                if strip:  # a heading may sit in the path rather than the text when the chunking differs
                    stripped_text += "\n".join(texts + [h for c in chunks for h in c.heading_path]) + "\n"
                else:
                    kept_body.extend(line for line in lines if not pattern.match(line) and len(line) >= 8)
            if verbose:
                print(f"  {path.name}: {counts['furniture_lines']}")
        survived = sum(line in stripped_text for line in kept_body)
        counts["body_lines_present"] = f"{survived}/{len(kept_body)} = {survived / max(len(kept_body), 1):.4f}"
        counts["files"] = len(files)
        result[name] = counts
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", choices=["olmocr", "omnidocbench", "running"])
    parser.add_argument("--max-files", type=int, default=6, help="financebench 10-Ks to read (running set)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not PARSE.exists():
        raise SystemExit(f"{PARSE} not found: the evaluation sets live outside the repository")
    sets = {
        "olmocr": lambda: olmocr(args.verbose),
        "omnidocbench": lambda: omnidocbench(args.verbose),
        "running": lambda: running(args.verbose, args.max_files),
    }
    for name in args.set or list(sets):
        start = time.perf_counter()
        result = sets[name]()
        print(f"{name}: {json.dumps(result, ensure_ascii=False)} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
