"""The hostile-input corpus (``tests/hostile_corpus.py``) ingested next to good files by one
``kbbuild ingest`` with the default limits: per kind its outcome, message, the peak resident memory of
the worker that read it and its seconds; then the whole run's peak RSS (every process of the tree,
sampled every 0.2 s) and whether the good files were committed in the same run.

    python bench/hostile.py                      # writes the corpus to a temporary folder
    python bench/hostile.py --corpus /tmp/hc     # reuse a corpus written before
    python bench/hostile.py --args "--workers 1" # any ingest flags
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import hostile_corpus  # noqa: E402
from ingest import timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="an existing corpus folder (default: write one)")
    parser.add_argument("--args", default="", help="extra kbbuild ingest flags")
    small = "the corpus the tests use: the kinds that are slow to write 10x smaller"
    parser.add_argument("--small", action="store_true", help=small)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kbbuild-hostile-") as scratch:
        corpus = options.corpus
        if corpus is None:
            corpus = Path(scratch) / "corpus"
            hostile_corpus.build(corpus, big=not options.small)
            hostile_corpus.add_good_files(corpus)
        kb = Path(scratch) / "kb"
        command = [sys.executable, "-m", "kbbuild", "ingest", str(corpus), "--kb", str(kb), "--json", "--no-progress"]
        seconds, peak, out = timed([*command, *shlex.split(options.args)])
    report = json.loads(out)
    by_path = {f["relpath"]: f for f in report["files"]}
    unsupported = set(report["unsupported"])
    print(f"{'kind':32} {'outcome':11} {'worker MB':>9} {'s':>6}  message")
    for kind in hostile_corpus.kinds(big=not options.small):
        record = by_path.get(kind.relpath.replace("\n", "\\n")) or by_path.get(kind.relpath)
        if record is None:
            outcome = "unsupported" if kind.relpath in unsupported else "absent"
            print(f"{kind.name:32} {outcome:11} {'':>9} {'':>6}")
            continue
        message = record.get("error") or "; ".join(record.get("warnings") or []) or ""
        memory = record.get("peak_memory_mb")
        took = record.get("read_seconds")
        print(
            f"{kind.name:32} {record['status']:11} {memory if memory is not None else '-':>9} "
            f"{took if took is not None else '-':>6}  {message[:150]}"
        )
    good = [f for f in report["files"] if f["relpath"].startswith("good_")]
    print(
        f"\nrun: {seconds:.0f} s, exit code {report['exit_code']}, version {report['kb_version']}, "
        f"peak RSS of the whole run {peak / 2**20:,.0f} MB; good files ingested: "
        f"{sum(f['status'] == 'ingested' for f in good)} of {len(good)}"
    )


if __name__ == "__main__":
    main()
