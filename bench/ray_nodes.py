"""A simulated two-node Ray cluster on this machine, and one ``kbbuild ingest --engine ray`` on it.

Ray's own test harness (``ray.cluster_utils.Cluster``) starts a head node and a second node, each a
raylet with its own CPUs and object store, on this one machine. kbbuild joins it as a user joins a
real cluster (``--ray-address``), in a fresh process; its report says on which nodes files were
prepared and chunks embedded. The KB is then compared with a local-engine KB of the same files.

    python bench/ray_nodes.py                                  # samples/, 1 CPU per node
    python bench/ray_nodes.py --docs DIR --cpus-per-node 1     # any folder

What this does not show: a network between nodes (here the object store transfers are local
shared memory), a shared file system (here every node sees the same disk), and more than one
machine's cores (both nodes share this machine's two).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _ingest(docs: Path, kb: Path, *extra: str) -> tuple[dict, float]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "--no-progress", "--json"]
    done = subprocess.run([*command, *extra], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode not in (0, 1):
        sys.exit(f"ingest failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout), time.perf_counter() - started


def _rows(kb: Path) -> dict[str, tuple[str, np.ndarray]]:
    sys.path.insert(0, str(ROOT))
    from kbbuild import KB

    store = KB.open(kb)
    rows = store.chunks_table(store.manifest()).to_arrow().to_pylist()
    return {row["id"]: (row["text"], np.asarray(row["vector"])) for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples")
    parser.add_argument("--cpus-per-node", type=int, default=1)
    args = parser.parse_args()

    from ray.cluster_utils import Cluster

    node_args = {"num_cpus": args.cpus_per_node, "object_store_memory": 300 * 2**20, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node_args)
    cluster.add_node(**{k: v for k, v in node_args.items() if k != "include_dashboard"})
    cluster.wait_for_nodes()
    print(f"cluster at {cluster.address}: 2 nodes x {args.cpus_per_node} CPU", flush=True)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            on_cluster = ("--engine", "ray", "--ray-address", cluster.address)
            ray_report, ray_seconds = _ingest(args.docs, Path(scratch) / "ray", *on_cluster)
            _, local_seconds = _ingest(args.docs, Path(scratch) / "local", "--engine", "local")
            local, ray = _rows(Path(scratch) / "local"), _rows(Path(scratch) / "ray")
    finally:
        cluster.shutdown()
    for note in ray_report["notes"]:
        if note.startswith("--engine ray"):
            print(note)
    same_ids = set(local) == set(ray)
    worst = max((float(np.abs(local[i][1] - ray[i][1]).max()) for i in local if i in ray), default=0.0)
    same_text = all(local[i][0] == ray[i][0] for i in local if i in ray)
    print(f"ray {ray_seconds:.1f} s, local {local_seconds:.1f} s; {len(ray)} rows (local {len(local)})")
    print(f"same ids: {same_ids}, same texts: {same_text}, largest vector difference: {worst:.2e}")
    if not (same_ids and same_text and worst < 1e-6):
        sys.exit("the two engines' KBs differ")


if __name__ == "__main__":
    main()
