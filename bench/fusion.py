"""Fusion methods compared on real question sets: which way of merging the vector and full-text lists
never loses to the better of the two?

For every question each list is run once (top ``--candidates`` with its scores, through the KB's own
``Searcher``); the fusion methods then reorder the same candidates offline, so that every method is
scored on exactly the same lists. Prints recall@1/3/5/10 and MRR@10 per set and method.

    python bench/fusion.py --set financebench /tmp/fb-kb /work/shared/eval/qa/financebench/qrels.jsonl \\
                           --set caibao /tmp/cb-kb /work/shared/eval/qa/caibao/qrels.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kbbuild.config import Settings  # noqa: E402
from kbbuild.retrieve.evaluate import answers, load_questions, missing_evidence  # noqa: E402
from kbbuild.retrieve.fusion import FUSIONS, RankedList  # noqa: E402
from kbbuild.retrieve.kb import SearchableKB  # noqa: E402
from kbbuild.text.segment import search_text  # noqa: E402

CUTOFFS = (1, 3, 5, 10)


def collect(kb_path: Path, questions_file: Path, candidates: int) -> list[dict]:
    """Per question: the ranked lists (id, score) and which candidate ids answer it."""
    settings = Settings()
    kb = SearchableKB.open(kb_path)
    searcher = kb.searcher(None, settings=settings)
    questions = load_questions(questions_file)
    missing = missing_evidence(questions, searcher.manifest.files)
    out = []
    for question in questions:
        if question.qid in missing:
            continue
        vector = searcher.embed_query(question.question)
        words = search_text(question.question)
        lists, rows = {}, {}
        for name in searcher.lists_for("hybrid", True):
            ranked = searcher._run(name, vector, words, None, candidates)
            lists[name] = [(chunk_id, score) for chunk_id, score, _, _ in ranked]
            rows.update({chunk_id: row for chunk_id, _, row, _ in ranked if row is not None})
        relevant = set()
        for chunk_id, row in rows.items():
            hit = SimpleNamespace(
                source=row["source"], pages=list(row["pages"] or []), text=row["text"],
                also_in=searcher.also_in.get(chunk_id, []),
            )  # fmt: skip
            if any(answers(hit, evidence) for evidence in question.evidence):
                relevant.add(chunk_id)
        fused = searcher.lists_for("hybrid", True, question.question)  # less the lists that sit this query out
        out.append(
            {"qid": question.qid, "question": question.question, "lists": lists, "fused": fused, "relevant": relevant}
        )
    return out


def score(ordered: list[list[str]], data: list[dict]) -> dict[str, float]:
    ranks = []
    for ids, item in zip(ordered, data, strict=True):
        rank = next((position for position, chunk_id in enumerate(ids[:10], 1) if chunk_id in item["relevant"]), None)
        ranks.append(rank)
    n = len(data) or 1
    result = {f"R@{c}": sum(r is not None and r <= c for r in ranks) / n for c in CUTOFFS}
    result["MRR"] = sum(1 / r for r in ranks if r is not None) / n
    return result


def methods() -> dict[str, Callable[[dict[str, RankedList]], list[str]]]:
    """The single lists, and every fusion kbbuild knows with its default parameters."""
    table: dict[str, Callable[[dict[str, RankedList]], list[str]]] = {
        "vector": lambda lists: [chunk_id for chunk_id, _ in lists.get("vector", [])],
        "fts": lambda lists: [chunk_id for chunk_id, _ in lists.get("fts", [])],
    }
    for name, fuse in FUSIONS.items():
        table[name] = lambda lists, fuse=fuse: [chunk_id for chunk_id, _ in fuse(lists)]
    return table


def lists_for(method: str, item: dict) -> dict[str, RankedList]:
    """A single list is scored as its own mode runs it; a fusion gets the lists hybrid search fuses."""
    if method in ("vector", "fts"):
        return item["lists"]
    return {name: ranked for name, ranked in item["lists"].items() if name in item["fused"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs=3, action="append", metavar=("NAME", "KB", "QUESTIONS"), required=True)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--dump", type=Path, help="also write the collected lists as JSON here")
    options = parser.parse_args()
    table = methods()
    dumped = {}
    for name, kb, questions in options.set:
        data = collect(Path(kb), Path(questions), options.candidates)
        dumped[name] = [{**item, "relevant": sorted(item["relevant"])} for item in data]
        print(f"\n{name}: {len(data)} questions")
        print(f"{'method':28} " + " ".join(f"{'R@' + str(c):>6}" for c in CUTOFFS) + f" {'MRR':>6}")
        for method, order in table.items():
            result = score([order(lists_for(method, item)) for item in data], data)
            print(f"{method:28} " + " ".join(f"{result[f'R@{c}']:6.3f}" for c in CUTOFFS) + f" {result['MRR']:6.3f}")
    if options.dump:
        options.dump.write_text(json.dumps(dumped, ensure_ascii=False))


if __name__ == "__main__":
    main()
