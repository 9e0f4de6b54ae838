"""kbbuild's embedding stage against one bare FlagEmbedding ``encode_corpus`` call on the same texts.

The texts are real chunks: kbbuild parses, cleans and chunks PDFs from a corpus (default: the
smallest financebench filings) exactly as an ingest does, then both sides embed the same list with
the same model, batch size, max length and threads, in this one process, interleaved (A B C A B C
...) so that the machine's noise hits all alike. kbbuild runs once per engine (torch: PyTorch;
onnx: ONNX Runtime on a graph exported from the same weights; onnx-int8: its int8 graph, one text
per run; torch-bf16: PyTorch with bfloat16 weights, fast where the CPU has AMX). Reported:
chunks/s of each run, the median per-round ratio of each engine to FlagEmbedding, and the largest
difference and lowest cosine between each engine's vectors and FlagEmbedding's. Run from the repo root:

    python bench/embed.py                       # 256 chunks, 3 rounds, every engine
    python bench/embed.py --chunks 512 --rounds 5 --batch-size 32 --backends onnx
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


# bench name -> ([embed] backend, [embed] precision)
ENGINES = {
    "torch": ("torch", "float"),
    "onnx": ("onnx", "float"),
    "onnx-int8": ("onnx", "int8"),
    "torch-bf16": ("torch", "bf16"),
}


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


def bare_flag_model(model: str, batch_size: int, max_length: int):
    """FlagEmbedding's own ``FlagModel`` on the same weights, pooling and normalisation as kbbuild's
    card for the model (kbbuild's ONNX engine no longer keeps one around to borrow)."""
    from FlagEmbedding import FlagModel

    from kbbuild.embed.models import resolve_model

    resolved = resolve_model(model)
    card = resolved.card
    return FlagModel(
        resolved.location,
        normalize_embeddings=card.normalize,
        query_instruction_for_retrieval=card.query_instruction,
        devices="cpu",
        pooling_method=card.pooling,
        batch_size=batch_size,
        query_max_length=max_length,
        passage_max_length=max_length,
        use_fp16=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=FINANCEBENCH, help="folder of documents to chunk")
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: kbbuild's [embed] batch_size")
    parser.add_argument(
        "--backends",
        default="torch,onnx,onnx-int8,torch-bf16",
        help=f"kbbuild engines to run: {', '.join(ENGINES)}",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from kbbuild.config import DEFAULT_EMBED_MODEL, Settings
    from kbbuild.plugins import Registry, make_plugin_manager

    embedders = {}
    for backend in args.backends.split(","):
        settings = Settings()
        settings.ingest.progress = False
        settings.embed.backend, settings.embed.precision = ENGINES[backend]
        if args.batch_size:
            settings.embed.batch_size = args.batch_size
        registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
        embedders[backend] = registry.named("embedders", "flagembedding").load(DEFAULT_EMBED_MODEL, settings)
    first = next(iter(embedders.values()))
    texts = real_chunks(args.corpus, args.chunks, settings, registry, first)
    tokens = first.count_tokens(texts)
    batch, length = settings.embed.batch_size, first.info.max_length
    bare = bare_flag_model(DEFAULT_EMBED_MODEL, batch, length)

    runs: dict[str, list[float]] = {f"kbbuild-{name}": [] for name in embedders} | {"flagembedding": []}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            vectors[f"kbbuild-{name}"] = embedder.embed_documents(texts)
            runs[f"kbbuild-{name}"].append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        vectors["flagembedding"] = np.asarray(bare.encode_corpus(texts, batch_size=batch, max_length=length))
        runs["flagembedding"].append(len(texts) / (time.perf_counter() - started))
    flag = runs["flagembedding"]
    result = {
        "chunks": len(texts),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "batch_size": batch,
        "max_length": length,
        "threads": torch.get_num_threads(),
        "chunks_per_s": {name: [round(v, 2) for v in values] for name, values in runs.items()},
        "median_ratio_to_flagembedding": {
            name: round(statistics.median(a / b for a, b in zip(values, flag, strict=True)), 3)
            for name, values in runs.items()
            if name != "flagembedding"
        },
        "max_abs_vector_difference": {
            name: float(np.abs(vectors[name] - vectors["flagembedding"]).max())
            for name in runs
            if name != "flagembedding"
        },
        "min_cosine_to_flagembedding": {
            name: float((vectors[name] * vectors["flagembedding"]).sum(axis=1).min())
            for name in runs
            if name != "flagembedding"
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['chunks']} chunks, {result['mean_tokens']} tokens on average, batch {batch}, max_length {length}")
    for name, values in result["chunks_per_s"].items():
        print(f"  {name:16} chunks/s per round: {', '.join(map(str, values))}")
    for name, ratio in result["median_ratio_to_flagembedding"].items():
        difference = result["max_abs_vector_difference"][name]
        cosine = result["min_cosine_to_flagembedding"][name]
        print(
            f"  {name:16} median ratio to FlagEmbedding {ratio}; largest vector difference {difference:.1e}, "
            f"lowest cosine {cosine:.4f}"
        )


if __name__ == "__main__":
    main()
