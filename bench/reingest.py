"""Incremental re-ingest: how long an unchanged corpus takes the second time, against the first.

For each corpus, three runs of the real CLI in fresh subprocesses on one new KB, timed from process
start to exit (so start-up and imports count on both sides):

1. first ingest (everything parsed, chunked, embedded, written);
2. the same folder again, unchanged (content hashes match: nothing is processed);
3. the same folder after ``touch``-ing every file (new mtimes, same bytes: still nothing processed,
   because changes are detected by content hash, not by modification time).

The ratio run 2 / run 1 is the figure the target (at most 2%) is about. Run from the repo root:

    python bench/reingest.py                          # samples/
    python bench/reingest.py --corpus financebench    # ../shared/eval/qa/financebench/pdfs
    python bench/reingest.py --corpus financebench --max-files 20 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"
CORPORA = {
    "samples": ROOT / "samples",
    "financebench": SHARED / "qa" / "financebench" / "pdfs",
    "caibao": SHARED / "qa" / "caibao" / "pdfs",
}


def stage_corpus(name: str, max_files: int | None, into: Path) -> int:
    """Link the corpus files into a private folder (the bench touches them; the originals stay)."""
    source = CORPORA[name]
    if not source.is_dir():
        raise SystemExit(f"corpus {name} not found at {source}")
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    files = [p for p in files if p.suffix.lower() != ".md"][: max_files or None]
    into.mkdir(parents=True)
    for path in files:
        shutil.copy(path, into / path.name)  # a copy, so touching it leaves the shared corpus alone
    return len(files)


def timed_ingest(docs: Path, kb: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "--no-progress", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"ingest failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, json.loads(result.stdout)


def bench(name: str, max_files: int | None, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="kbbuild-reingest-") as scratch:
        work = keep / name if keep else Path(scratch)
        docs, kb = work / "docs", work / "kb"
        if keep and work.exists():
            raise SystemExit(f"{work} exists; --keep needs a fresh folder")
        files = stage_corpus(name, max_files, docs)
        first, first_report = timed_ingest(docs, kb)
        again, again_report = timed_ingest(docs, kb)
        for path in docs.iterdir():
            os.utime(path)
        touched, touched_report = timed_ingest(docs, kb)
    processed = [r["counts"]["files_ingested"] for r in (again_report, touched_report)]
    return {
        "corpus": name,
        "files": files,
        "pages": first_report["counts"]["pages"],
        "chunks": first_report["counts"]["chunks_total"],
        "first_s": round(first, 2),
        "unchanged_s": round(again, 2),
        "touched_s": round(touched, 2),
        "ratio_unchanged": round(again / first, 4),
        "ratio_touched": round(touched / first, 4),
        "reprocessed_on_reingest": processed,
        "reingest_stage_seconds": again_report["timings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="default: samples")
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, help="Keep each corpus's docs and KB in KEEP/<corpus> (e.g. for eval).")
    args = parser.parse_args()
    results = [bench(name, args.max_files, args.keep) for name in args.corpus or ["samples"]]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'corpus':14} {'files':>5} {'pages':>6} {'chunks':>6} {'first s':>8} {'again s':>8} {'ratio':>7} "
        f"{'touched s':>9} {'ratio':>7}  reprocessed"
    )
    for r in results:
        print(
            f"{r['corpus']:14} {r['files']:>5} {r['pages']:>6} {r['chunks']:>6} {r['first_s']:>8.1f} "
            f"{r['unchanged_s']:>8.2f} {r['ratio_unchanged']:>7.2%} {r['touched_s']:>9.2f} "
            f"{r['ratio_touched']:>7.2%}  {r['reprocessed_on_reingest']}"
        )


if __name__ == "__main__":
    main()
