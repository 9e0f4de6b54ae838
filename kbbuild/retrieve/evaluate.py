"""Retrieval evaluation: recall@k and MRR of a KB version on questions with known sources.

A question file is JSON Lines; each line has ``question`` (or ``query``) and its evidence, either
``evidence: [{"doc": "pdfs/a.pdf", "page": 12}, {"text": "a span"}]`` (the format of the public
sets in ../shared/eval) or the shorthand ``source``/``page``/``pages``/``text`` on the line itself.
A hit answers a piece of evidence when it comes from the same file (paths compared from the end, so
``pdfs/a.pdf`` matches the KB's ``a.pdf``) and its pages include the evidence page, or when its text
contains the evidence span. A hit also answers for the places its text was deduplicated from
(``also_in``): the duplicate's page had the same text, only stored once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kbbuild.errors import InputError
from kbbuild.records import EvalConfigResult, EvalQuestion, EvalReport, Evidence, FileRecord, FileStatus, SearchHit

if TYPE_CHECKING:
    from kbbuild.retrieve.kb import SearchableKB

CUTOFFS = (1, 3, 5, 10)


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            questions.append(_question(data, number))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise InputError(f"{path}:{number}: not a question with evidence ({error})") from None
    if not questions:
        raise InputError(f"{path} has no questions")
    return questions


def _question(data: dict, number: int) -> EvalQuestion:
    text = data.get("question") or data.get("query")
    if not text:
        raise KeyError("question")
    evidence: list[Evidence] = []
    for item in data.get("evidence") or []:
        evidence.append(
            Evidence(doc=item.get("doc") or item.get("source"), page=item.get("page"), text=item.get("text"))
        )
    if data.get("source") or data.get("doc"):
        doc = data.get("source") or data.get("doc")
        pages = data.get("pages") or ([data["page"]] if data.get("page") else [None])
        evidence += [Evidence(doc=doc, page=page) for page in pages]
    if data.get("text") and not data.get("evidence"):
        evidence.append(Evidence(text=data["text"]))
    if not evidence:
        raise ValueError("no evidence: give evidence [{doc, page} | {text}], or source/page/text")
    return EvalQuestion(qid=str(data.get("qid") or data.get("id") or number), question=text, evidence=evidence)


def _same_file(doc: str, source: str) -> bool:
    a, b = doc.replace("\\", "/").strip("/"), source.replace("\\", "/").strip("/")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def answers(hit: SearchHit, evidence: Evidence) -> bool:
    places = [(hit.source, hit.pages)] + [(other.source, other.pages) for other in hit.also_in]
    span_ok = not evidence.text or _squash(evidence.text) in _squash(hit.text)
    if not evidence.doc:
        return bool(evidence.text) and span_ok
    return span_ok and any(
        _same_file(evidence.doc, source) and (evidence.page is None or evidence.page in pages)
        for source, pages in places
    )


def missing_evidence(questions: list[EvalQuestion], files: list[FileRecord]) -> dict[str, str]:
    """The questions none of whose evidence files is in the KB version, and why (the file was never
    ingested, or failed). Questions with only text evidence can be answered by any file: never listed."""
    present = [f.relpath for f in files if f.status in (FileStatus.INGESTED, FileStatus.UNCHANGED)]
    failed = {f.relpath: f.error or "failed" for f in files if f.status is FileStatus.FAILED}
    missing: dict[str, str] = {}
    for question in questions:
        docs = sorted({e.doc for e in question.evidence if e.doc})
        if not docs or any(_same_file(doc, source) for doc in docs for source in present):
            continue
        reasons = []
        for doc in docs:
            why = next((error for source, error in failed.items() if _same_file(doc, source)), None)
            reasons.append(f"{doc} failed to ingest ({why})" if why else f"{doc} is not in the KB")
        missing[question.qid] = "; ".join(reasons)
    return missing


def first_hit_rank(hits: list[SearchHit], question: EvalQuestion) -> int | None:
    for hit in hits:
        if any(answers(hit, evidence) for evidence in question.evidence):
            return hit.rank
    return None


def score_config(
    name: str, questions: list[EvalQuestion], search: Callable[[str], list[SearchHit]], depth: int = 10
) -> EvalConfigResult:
    """Run every question through ``search`` (which returns at least ``depth`` hits when it can)."""
    ranks: dict[str, int | None] = {}
    multi = covered = 0
    started = time.perf_counter()
    for question in questions:
        hits = search(question.question)[:depth]
        ranks[question.qid] = first_hit_rank(hits, question)
        if len(question.evidence) > 1:
            multi += 1
            covered += all(any(answers(hit, e) for hit in hits) for e in question.evidence)
    seconds = time.perf_counter() - started
    n = len(questions)
    found = [rank for rank in ranks.values() if rank is not None]
    return EvalConfigResult(
        name=name,
        questions=n,
        recall={f"@{c}": round(sum(rank <= c for rank in found) / n, 4) for c in CUTOFFS if c <= depth},
        mrr=round(sum(1.0 / rank for rank in found) / n, 4),
        all_evidence_at_depth=round(covered / multi, 4) if multi else None,
        multi_evidence_questions=multi,
        seconds_per_query=round(seconds / n, 4),
        first_hit_ranks=ranks,
    )


def parse_config(name: str) -> tuple[str, bool, bool]:
    """'hybrid+questions+rerank' -> (mode, questions, rerank)."""
    mode, *extras = name.split("+")
    unknown = set(extras) - {"questions", "rerank"}
    if mode not in ("vector", "fts", "hybrid") or unknown:
        raise InputError(f"unknown configuration '{name}': MODE[+questions][+rerank], MODE = vector, fts or hybrid")
    return mode, "questions" in extras, "rerank" in extras


def default_configs(has_questions: bool, rerank: bool) -> list[str]:
    configs = ["vector", "fts", "hybrid"]
    if has_questions:
        configs += ["vector+questions", "hybrid+questions"]
    if rerank:
        configs += ["hybrid+questions+rerank" if has_questions else "hybrid+rerank"]
    return configs


def evaluate_kb(
    kb: SearchableKB,
    questions_file: Path,
    *,
    configs: list[str] | None = None,
    rerank: bool = False,
    version: int | None = None,
    depth: int = 10,
    settings=None,
    count_missing: bool = False,
) -> EvalReport:
    """Score each configuration on one KB version (the model is loaded once, the queries re-run).
    Questions whose evidence is in no file of the version are left out (``count_missing``: scored as
    misses) and listed in the report, so that a missing or failed file is not mistaken for bad search."""
    from kbbuild.config import Settings
    from kbbuild.errors import KbbuildError
    from kbbuild.retrieve.rerank import load_reranker

    settings = settings or Settings()
    questions = load_questions(questions_file)
    searcher = kb.searcher(version, settings=settings)
    missing = missing_evidence(questions, searcher.manifest.files)
    if not count_missing:
        questions = [question for question in questions if question.qid not in missing]
        if not questions:
            raise InputError(
                f"none of the {len(missing)} questions has its evidence in KB version "
                f"{searcher.manifest.kb_version} (for example: {next(iter(missing.values()))})"
            )
    has_questions = searcher.questions is not None
    q = settings.query
    results, unavailable = [], {}
    for name in configs or default_configs(has_questions, rerank):
        mode, use_questions, use_rerank = parse_config(name)
        if use_questions and not has_questions:
            unavailable[name] = "the KB version has no synthetic questions (ingest with --questions N)"
            continue
        reranker = None
        if use_rerank:
            try:
                reranker = load_reranker(q.reranker, q.device)
            except KbbuildError as error:
                unavailable[name] = str(error)
                continue

        def search(text: str, mode=mode, use_questions=use_questions, reranker=reranker) -> list[SearchHit]:
            return searcher.search(
                text,
                k=depth,
                mode=mode,
                questions=use_questions,
                candidates=q.candidates,
                rrf_k=q.rrf_k,
                fusion=q.fusion,
                rerank=reranker,
                rerank_candidates=q.rerank_candidates,
            )

        results.append(score_config(name, questions, search, depth))
    return EvalReport(
        kb_path=str(kb.root),
        collection=kb.collection,
        kb_version=searcher.manifest.kb_version,
        questions_file=str(questions_file),
        depth=depth,
        results=results,
        unavailable=unavailable,
        evidence_missing=missing,
        counted_missing=count_missing,
    )
