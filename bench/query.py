"""Query latency on a large KB, and what the ANN index buys and costs.

Builds a KB of ``--rows`` synthetic chunks through kbbuild's own writer (real LanceDB tables, the
full-text index over ``search_text``, a committed manifest), then times ``Searcher.search`` in each
mode on three versions of the same rows side by side:

* exact (flat) vector search, no ANN index;
* IVF_HNSW_SQ and IVF_PQ indexes (each committed as its own KB version, the rows unchanged),
  searched with the ``[index] nprobes`` / ``refine_factor`` defaults.

For the ANN versions it reports recall@10 of the vector list against the exact search. The query
embedding is not timed here (the vectors are synthetic; a MiniLM query embedding costs about 10 ms
on this machine, BGE-M3 about 60 ms): this measures the store.

Synthetic data, stated plainly: vectors are drawn around 2,000 random centres (clustered like real
embeddings, which matters for ANN recall; uniformly random vectors would be the worst case), texts
are Zipf-distributed pseudo-words. Run from the repo root:

    python bench/query.py                  # 100,000 rows, 200 queries
    python bench/query.py --rows 20000 --queries 50 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kbbuild.config import IndexSettings
from kbbuild.records import ChunkRow, EmbeddingModelInfo, Manifest, VersionCounts
from kbbuild.retrieve.search import Searcher
from kbbuild.store.kb import KB
from kbbuild.store.manifest import write_manifest
from kbbuild.store.schema import CHUNKS_TABLE
from kbbuild.store.tags import pin_table_versions
from kbbuild.store.writer import KBWriter

DIM = 384
CENTRES = 2000
VOCABULARY = 30000


class Corpus:
    def __init__(self, rows: int, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.centres = self._unit(self.rng.normal(size=(CENTRES, DIM)).astype(np.float32))
        self.rows = rows
        ranks = np.arange(1, VOCABULARY + 1)
        self.word_p = (1.0 / ranks) / (1.0 / ranks).sum()

    @staticmethod
    def _unit(vectors: np.ndarray) -> np.ndarray:
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)

    def words(self, n: int) -> list[str]:
        return [f"w{i}" for i in self.rng.choice(VOCABULARY, size=n, p=self.word_p)]

    def batch(self, start: int, size: int) -> tuple[np.ndarray, list[str]]:
        centre = self.rng.integers(0, CENTRES, size=size)
        vectors = self._unit(self.centres[centre] + 0.06 * self.rng.normal(size=(size, DIM)).astype(np.float32))
        texts = [" ".join(self.words(60)) for _ in range(size)]
        return vectors.astype(np.float32), texts


def build(kb_path: Path, rows: int) -> tuple[KB, Manifest, float, list[tuple[str, np.ndarray]]]:
    """Write the rows, the full-text index and version 1; return some rows to query with."""
    kb = KB.open_or_create(kb_path)
    info = EmbeddingModelInfo(
        name="synthetic", provider="bench", location="-", dim=DIM, normalize=True, pooling="mean", max_length=256
    )
    corpus = Corpus(rows)
    writer = KBWriter(kb, None, info, rebuild=True, batch_rows=20000)
    started = time.perf_counter()
    probes: list[tuple[str, np.ndarray]] = []
    for start in range(0, rows, 10000):
        size = min(10000, rows - start)
        vectors, texts = corpus.batch(start, size)
        writer.add(
            ChunkRow(
                id=f"c{start + i}",
                source=f"doc{(start + i) // 40}.pdf",
                source_sha256="0" * 64,
                chunk_index=(start + i) % 40,
                text=texts[i],
                heading_path=[f"Doc {(start + i) // 40}"],
                pages=[1 + (start + i) % 40 // 4],
                page_start=1 + (start + i) % 40 // 4,
                page_end=1 + (start + i) % 40 // 4,
                kinds=["paragraph"],
                n_tokens=60,
                parser="bench",
                meta_json="{}",
                search_text=texts[i],
                kb_version=1,
                vector=vectors[i].tolist(),
            )
            for i in range(size)
        )
        for i in corpus.rng.choice(size, size=max(1, 400 * size // rows), replace=False):
            noisy = corpus._unit(vectors[i] + 0.03 * corpus.rng.normal(size=DIM).astype(np.float32))
            probes.append((" ".join(texts[i].split()[::7][:6]), noisy.astype(np.float32)))
    writer.build_indexes(IndexSettings(ann_min_rows=rows + 1))  # full-text only
    seconds = time.perf_counter() - started
    manifest = commit(kb, 1, writer.table_versions(), info, rows)
    return kb, manifest, seconds, probes


def commit(kb: KB, version: int, table_versions: dict[str, int], info: EmbeddingModelInfo, rows: int) -> Manifest:
    counts = VersionCounts(
        files_seen=0,
        files_ingested=0,
        files_unchanged=0,
        files_failed=0,
        files_removed=0,
        pages=0,
        pages_without_text=0,
        pages_ocr=0,
        chunks_added=0,
        chunks_removed=0,
        chunks_total=rows,
    )
    manifest = Manifest(
        kb_version=version,
        parent_version=version - 1 or None,
        created_at=datetime.now(timezone.utc),
        kbbuild_version="bench",
        table_versions=table_versions,
        config={},
        config_fingerprint="bench",
        embedding=info,
        plugins=[],
        files=[],
        counts=counts,
        timings={},
    )
    write_manifest(kb.path, manifest)
    pin_table_versions(kb.connect(), version, table_versions)
    return manifest


def with_ann(kb: KB, previous: Manifest, version: int, ann_type: str) -> tuple[Manifest, float]:
    from lancedb.index import HnswSq, IvfPq

    table = kb.connect().open_table(CHUNKS_TABLE)
    config = HnswSq(distance_type="cosine") if ann_type == "IVF_HNSW_SQ" else IvfPq(distance_type="cosine")
    started = time.perf_counter()
    table.create_index("vector", config=config, replace=True)
    seconds = time.perf_counter() - started
    manifest = commit(kb, version, {CHUNKS_TABLE: table.version}, previous.embedding, previous.counts.chunks_total)
    return manifest, seconds


def latencies(searcher: Searcher, probes, mode: str, k: int = 10) -> tuple[list[float], list[list[str]]]:
    times, results = [], []
    for text, _ in probes[:3]:  # warm caches (index pages, jieba) outside the timing
        searcher.search(text, k=k, mode=mode, questions=False)
    for text, _ in probes:
        started = time.perf_counter()
        hits = searcher.search(text, k=k, mode=mode, questions=False)
        times.append((time.perf_counter() - started) * 1000)
        results.append([hit.chunk_id for hit in hits])
    return times, results


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kbbuild-query-") as work:
        kb, flat, build_seconds, probes = build(Path(work) / "kb", args.rows)
        probes = probes[: args.queries]
        vectors = {text: vector for text, vector in probes}
        db = kb.connect()
        index_settings = IndexSettings()
        results: list[dict] = []
        exact: dict[str, list[list[str]]] = {}
        versions = [("flat", flat, 0.0)]
        hnsw, hnsw_seconds = with_ann(kb, flat, 2, "IVF_HNSW_SQ")
        versions.append(("IVF_HNSW_SQ", hnsw, hnsw_seconds))
        pq, pq_seconds = with_ann(kb, hnsw, 3, "IVF_PQ")
        versions.append(("IVF_PQ", pq, pq_seconds))
        for label, manifest, index_seconds in versions:
            searcher = Searcher(db, manifest, lambda text: vectors[text], index_settings)
            for mode in ("vector", "fts", "hybrid"):
                if label != "flat" and mode == "fts":
                    continue  # the full-text index is the same in every version
                times, found = latencies(searcher, probes, mode)
                if label == "flat":
                    exact[mode] = found
                recall = None
                if label != "flat" and mode == "vector":
                    pairs = zip(found, exact["vector"], strict=True)
                    recall = statistics.mean(len(set(a) & set(b)) / max(len(b), 1) for a, b in pairs)
                results.append(
                    {
                        "index": label,
                        "mode": mode,
                        "p50_ms": round(percentile(times, 50), 1),
                        "p95_ms": round(percentile(times, 95), 1),
                        "recall_at_10_vs_exact": round(recall, 4) if recall is not None else None,
                        "index_build_s": round(index_seconds, 1),
                    }
                )
        summary = {
            "rows": args.rows,
            "queries": len(probes),
            "write_and_fts_index_s": round(build_seconds, 1),
            "nprobes": index_settings.nprobes,
            "refine_factor": index_settings.refine_factor,
            "results": results,
        }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{summary['rows']} rows, {summary['queries']} queries; rows + full-text index written in "
        f"{summary['write_and_fts_index_s']} s; nprobes {summary['nprobes']}, refine {summary['refine_factor']}"
    )
    print(f"{'index':12} {'mode':7} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9} {'build s':>8}")
    for r in results:
        recall = f"{r['recall_at_10_vs_exact']:.3f}" if r["recall_at_10_vs_exact"] is not None else "-"
        if r["index"] == "flat":
            recall = "exact"
        print(f"{r['index']:12} {r['mode']:7} {r['p50_ms']:>7} {r['p95_ms']:>7} {recall:>9} {r['index_build_s']:>8}")


if __name__ == "__main__":
    main()
