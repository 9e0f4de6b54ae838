"""kbbuild's embedding stage against one bare FlagEmbedding ``encode_corpus`` call on the same texts.

The texts are real chunks: kbbuild parses, cleans and chunks PDFs from a corpus (default: the
smallest financebench filings) exactly as an ingest does, then both sides embed the same list with
the same model, batch size, max length and torch threads, in this one process, interleaved
(A B A B ...) so that the machine's noise hits both alike. Reported: chunks/s of each run, the
median of the per-round ratios kbbuild / FlagEmbedding, and the largest difference between the two
sides' vectors. Run from the repo root:

    python bench/embed.py                       # 256 chunks, 3 rounds
    python bench/embed.py --chunks 512 --rounds 5 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FINANCEBENCH = ROOT.parent / "shared" / "eval" / "qa" / "financebench" / "pdfs"


def real_chunks(folder: Path, wanted: int, settings, registry, embedder) -> list[str]:
    """Chunk texts (as embedded, heading path in front) from the smallest PDFs of ``folder``."""
    from kbbuild.pipeline.discover import discover
    from kbbuild.providers import ParseContext

    found = discover(folder, settings, registry.supported_formats())
    sources = sorted(found.sources, key=lambda s: s.size)
    chunker = registry.named("chunkers", settings.chunk.strategy)
    count = embedder.token_counter()
    texts: list[str] = []
    for source in sources:
        parser = registry.parser_for(source.format, settings.parse.parsers)
        document = parser.parse(source, ParseContext(settings, lambda _page: None, registry))
        for cleaner in registry.cleaners:
            document = cleaner.clean(document, settings)
        chunks = chunker.chunk(document, settings, count)
        texts.extend(c.embedding_text(settings.chunk.embed_heading_path) for c in chunks)
        if len(texts) >= wanted:
            break
    return texts[:wanted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=FINANCEBENCH, help="folder of documents to chunk")
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: kbbuild's [embed] batch_size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from kbbuild.config import Settings
    from kbbuild.plugins import Registry, make_plugin_manager

    settings = Settings()
    settings.ingest.progress = False
    if args.batch_size:
        settings.embed.batch_size = args.batch_size
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    embedder = registry.named("embedders", settings.embed.provider).load(settings.embed.model, settings)
    texts = real_chunks(args.corpus, args.chunks, settings, registry, embedder)
    tokens = embedder.count_tokens(texts)
    bare = embedder._model  # the FlagModel kbbuild loaded: same weights, pooling, normalisation
    batch, length = settings.embed.batch_size, embedder.info.max_length

    runs: dict[str, list[float]] = {"kbbuild": [], "flagembedding": []}
    ratios = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        ours = embedder.embed_documents(texts)
        runs["kbbuild"].append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        theirs = bare.encode_corpus(texts, batch_size=batch, max_length=length)
        runs["flagembedding"].append(len(texts) / (time.perf_counter() - started))
        ratios.append(runs["kbbuild"][-1] / runs["flagembedding"][-1])
    result = {
        "chunks": len(texts),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "batch_size": batch,
        "max_length": length,
        "torch_threads": torch.get_num_threads(),
        "chunks_per_s": {name: [round(v, 2) for v in values] for name, values in runs.items()},
        "median_ratio": round(statistics.median(ratios), 3),
        "max_abs_vector_difference": float(np.abs(np.asarray(ours) - np.asarray(theirs)).max()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['chunks']} chunks, {result['mean_tokens']} tokens on average, batch {batch}, max_length {length}")
    for name, values in result["chunks_per_s"].items():
        print(f"  {name:14} chunks/s per round: {', '.join(map(str, values))}")
    print(f"  median ratio kbbuild / FlagEmbedding: {result['median_ratio']}")
    print(f"  largest vector difference: {result['max_abs_vector_difference']:.2e}")


if __name__ == "__main__":
    main()
