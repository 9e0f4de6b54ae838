"""Memory of a long PDF's worker, read in windows of pages (the default) and whole, side by side.

For each length, a report of that many pages (``tests/pdfmaker.long_report_pdf``: headings, a
running header, one body paragraph a page) is ingested by ``kbbuild ingest`` twice per repeat,
windowed and whole (``[parse] pdf_window_pages`` above the length), interleaved. Printed per length:
the median peak RSS of the file's worker (with its page-range helpers; the watchdog's own figure), the
median whole-run peak, the seconds reading the file, and the chunks. A windowed worker's peak should
stay flat as the file grows; a whole read's grows with it.

    python bench/long_pdf.py                         # 500, 2000 and 10000 pages, 1 repeat
    python bench/long_pdf.py --pages 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from ingest import timed  # noqa: E402
from pdfmaker import long_report_pdf  # noqa: E402


def ingest_once(docs: Path, kb: Path, config: Path | None, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "--json", "--no-progress"]
    if config is not None:
        command += ["-c", str(config)]
    seconds, peak, out = timed([*command, *extra])
    record = json.loads(out)["files"][0]
    return {
        "worker_mb": record.get("peak_memory_mb"),
        "run_mb": round(peak / 2**20),
        "read_s": record.get("read_seconds"),
        "chunks": record.get("chunks"),
        "status": record["status"],
        "wall_s": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, action="append", help="lengths to try (default 500, 2000, 10000)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--embed-model", default="all-MiniLM-L6-v2")
    options = parser.parse_args()
    extra = ["--embed-model", options.embed_model]
    print(f"{'pages':>6} {'read':8} {'worker MB':>9} {'run MB':>7} {'read s':>7} {'chunks':>6}")
    with tempfile.TemporaryDirectory(prefix="kbbuild-longpdf-") as scratch:
        work = Path(scratch)
        for pages in options.pages or [500, 2000, 10000]:
            docs = work / f"docs{pages}"
            docs.mkdir()
            long_report_pdf(docs / "report.pdf", pages)
            whole = work / f"whole{pages}.toml"
            whole.write_text(f"[parse]\npdf_window_pages = {pages + 1}\n")
            results: dict[str, list[dict]] = {"windows": [], "whole": []}
            for repeat in range(options.repeat):
                for name, config in (("windows", None), ("whole", whole)):
                    kb = work / f"kb-{pages}-{name}-{repeat}"
                    results[name].append(ingest_once(docs, kb, config, extra))
            for name, runs in results.items():
                median = {key: statistics.median(r[key] for r in runs) for key in ("worker_mb", "run_mb", "read_s")}
                statuses = {r["status"] for r in runs}
                print(
                    f"{pages:>6} {name:8} {median['worker_mb']:>9.0f} {median['run_mb']:>7.0f} "
                    f"{median['read_s']:>7.1f} {runs[0]['chunks']:>6} {'' if statuses == {'ingested'} else statuses}"
                )


if __name__ == "__main__":
    main()
