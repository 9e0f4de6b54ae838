"""Human-readable output: the ingest summary and query hits, each fitting one screen."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import PurePosixPath

from kbbuild.errors import ExitCode
from kbbuild.records import (
    CleaningCounts,
    CollectionInfo,
    EvalReport,
    FileStatus,
    GcReport,
    IngestReport,
    Manifest,
    SearchHit,
    VersionDiff,
)
from kbbuild.text.printable import printable

EXIT_MEANINGS = {
    ExitCode.OK: "ok",
    ExitCode.PARTIAL_FAILURE: "partial failure: some files failed, the rest are in the new version",
    ExitCode.NOTHING_INGESTED: "nothing ingested: no version was committed",
}


def pages_label(pages: list[int]) -> str:
    if not pages:
        return "p.-"
    if len(pages) == 1:
        return f"p.{pages[0]}"
    if pages == list(range(pages[0], pages[-1] + 1)):
        return f"pp.{pages[0]}-{pages[-1]}"
    return "pp." + ",".join(map(str, pages))


def _skipped(unsupported: list[str]) -> str:
    if not unsupported:
        return ""
    kinds = Counter(PurePosixPath(path).suffix.lstrip(".").lower() or "no extension" for path in unsupported)
    listed = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
    return f"; {len(unsupported)} skipped, no parser for them ({listed})"


def cleaning_summary(counts: CleaningCounts) -> str:
    parts = [
        f"{counts.headers} header, {counts.footers} footer, {counts.page_numbers} page-number and "
        f"{counts.watermarks} watermark lines stripped",
        f"{counts.noise_lines} noise lines and {counts.near_empty_pages} near-empty pages dropped",
        f"{counts.duplicates_exact} exact and {counts.duplicates_near} near-duplicate chunks linked",
    ]
    if counts.pii:
        parts.append("redacted " + ", ".join(f"{n} {kind}" for kind, n in counts.pii.items()))
    return "; ".join(parts)


def _overlap(report: IngestReport) -> str:
    """How much the stages ran at once: their busy seconds over the wall time."""
    busy = sum(report.timings.values())
    if not report.workers or not report.seconds:
        return ""
    return (
        f"\n          stages overlapped {busy / report.seconds:.1f}x ({busy:.1f} s of work in "
        f"{report.seconds:.1f} s; {report.workers} parse workers)"
    )


def ingest_summary(report: IngestReport) -> str:
    c = report.counts
    t = report.timings
    version = f"KB version {report.kb_version}" if report.kb_version is not None else "no new version"
    pages_per_s = c.pages / t["parse"] if t.get("parse") else 0.0
    lines = [
        f"kbbuild ingest: {version} in {report.kb_path}",
        f"  files   {c.files_seen} seen: {c.files_ingested} ingested, {c.files_unchanged} unchanged, "
        f"{c.files_failed} failed, {c.files_removed} removed"
        + (f", {c.files_skipped} refused" if c.files_skipped else "")
        + _skipped(report.unsupported),
        f"  pages   {c.pages} parsed"
        + (f", {c.pages_ocr} by OCR" if c.pages_ocr else "")
        + (f", {c.pages_without_text} without text (not OCRed)" if c.pages_without_text else ""),
        f"  chunks  {c.chunks_added} added, {c.chunks_removed} removed, {c.chunks_total} in the KB",
        f"  clean   {cleaning_summary(c.cleaning)}",
        *(
            [
                f"  questions {c.questions_generated} generated, {c.questions_kept} kept after filtering"
                + (f", {c.question_failures} chunks failed" if c.question_failures else "")
                + (f"; {c.questions_reused} chunks kept their questions" if c.questions_reused else "")
            ]
            if c.questions_generated or c.question_failures or c.questions_reused
            else []
        ),
        f"  time    {report.seconds:.1f} s ("
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in t.items() if seconds >= 0.05)
        + (f"; {pages_per_s:.1f} pages/s parsing" if pages_per_s else "")
        + ")"
        + _overlap(report),
    ]
    for status, title in ((FileStatus.FAILED, "failures:"), (FileStatus.SKIPPED, "refused:")):
        listed = [f for f in report.files if f.status is status]
        if listed:
            lines.append(title)
            lines.extend(f"  {printable(f.relpath)}: {printable(f.error or '')}" for f in listed)
    warned = [f for f in report.files if f.warnings]
    if warned:
        lines.append("warnings:")
        lines.extend(f"  {printable(f.relpath)}: {printable(w)}" for f in warned for w in f.warnings)
    if report.notes:
        lines.append("notes:")
        lines.extend(f"  {printable(note)}" for note in report.notes)
    lines.append(f"exit code {report.exit_code} ({EXIT_MEANINGS[ExitCode(report.exit_code)]})")
    return "\n".join(lines)


def hits_text(hits: list[SearchHit], width: int = 100, max_chars: int | None = 600) -> str:
    if not hits:
        return "no hits"
    blocks = []
    for hit in hits:
        head = f"#{hit.rank}  {hit.score:.3f}  {printable(hit.source)}  {pages_label(hit.pages)}"
        if hit.heading_path:
            head += "  [" + " > ".join(hit.heading_path) + "]"
        why = ", ".join(f"{m.via} #{m.rank}" for m in hit.matched_by)
        if hit.rerank_score is not None:
            why = f"reranked {hit.rerank_score:.3f}; " + why
        text = hit.text if max_chars is None or len(hit.text) <= max_chars else hit.text[:max_chars] + " …"
        body = f"    (document: {printable(hit.document)})\n" if hit.document else ""
        body += f"    (found by: {why}; similarity {hit.similarity:.3f})\n"
        body += textwrap.fill(" ".join(text.split()), width=width, initial_indent="    ", subsequent_indent="    ")
        if hit.matched_question:
            body = f"    (matched question: {hit.matched_question})\n" + body
        if hit.also_in:
            places = ", ".join(f"{printable(a.source)} {pages_label(a.pages)}" for a in hit.also_in[:5])
            more = f" and {len(hit.also_in) - 5} more" if len(hit.also_in) > 5 else ""
            body += f"\n    (also in: {places}{more})"
        blocks.append(head + "\n" + body)
    return "\n\n".join(blocks)


def versions_text(manifests: list[Manifest], tags: dict[str, int] | None = None) -> str:
    """One line per version; files added/changed/removed are counted against the parent version
    (blank when gc has deleted the parent)."""
    from kbbuild.store.diff import diff_versions

    names: dict[int, list[str]] = {}
    for name, version in sorted((tags or {}).items()):
        names.setdefault(version, []).append(name)
    by_number = {m.kb_version: m for m in manifests}
    lines = [
        f"{'version':>7}  {'created (UTC)':19}  {'made by':12}  {'files':>5}  {'added':>5}  {'changed':>7}  "
        f"{'removed':>7}  {'failed':>6}  {'chunks':>6}  model  tags"
    ]
    for m in manifests:
        c = m.counts
        parent = by_number.get(m.parent_version) if m.parent_version else None
        if m.parent_version is None:
            changes = f"{c.files_ingested:>5}  {0:>7}  {0:>7}"
        elif parent is not None:
            d = diff_versions(parent, m)
            changes = f"{d.added:>5}  {d.changed:>7}  {d.removed:>7}"
        else:
            changes = f"{'':>5}  {'':>7}  {'':>7}"
        made_by = f"rollback->{m.restored_from}" if m.operation == "rollback" else m.operation
        lines.append(
            f"{m.kb_version:>7}  {m.created_at:%Y-%m-%d %H:%M:%S}  {made_by:12}  "
            f"{c.files_ingested + c.files_unchanged:>5}  {changes}  {c.files_failed:>6}  {c.chunks_total:>6}  "
            f"{m.embedding.name}  " + ", ".join(names.get(m.kb_version, []))
        )
    return "\n".join(line.rstrip() for line in lines)


def eval_text(report: EvalReport) -> str:
    cutoffs = list(report.results[0].recall) if report.results else []
    lines = [
        f"KB {report.kb_path} version {report.kb_version}: {report.results[0].questions if report.results else 0} "
        f"questions from {report.questions_file}",
        f"{'configuration':26} " + " ".join(f"{'R' + c:>6}" for c in cutoffs) + f" {'MRR':>6} {'all-ev':>6} {'s/q':>6}",
    ]
    for r in report.results:
        every = f"{r.all_evidence_at_depth:>6.3f}" if r.all_evidence_at_depth is not None else f"{'-':>6}"
        lines.append(
            f"{r.name:26} "
            + " ".join(f"{r.recall[c]:>6.3f}" for c in cutoffs)
            + f" {r.mrr:>6.3f} {every} {r.seconds_per_query:>6.3f}"
        )
    for name, why in report.unavailable.items():
        lines.append(f"{name:26} unavailable: {why}")
    return "\n".join(lines)


def gc_text(report: GcReport) -> str:
    lines = []
    if report.new_version:
        merged = ", ".join(f"{name} ({count} fragments merged)" for name, count in report.compacted.items())
        lines.append(f"compacted {merged}; committed as KB version {report.new_version}")
    else:
        lines.append("nothing to compact")
    removed = ", ".join(map(str, report.removed)) or "none"
    lines.append(f"removed versions: {removed}; kept: {', '.join(map(str, report.kept))}")
    if report.tagged_kept:
        lines.append(f"kept because tagged: {', '.join(map(str, report.tagged_kept))}")
    size = report.bytes_removed
    lines.append(f"freed {size / 1e6:.1f} MB" if size >= 100_000 else f"freed {size / 1e3:.1f} kB")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


def collections_text(collections: list[CollectionInfo]) -> str:
    header = f"{'collection':16}  {'version':>7}  {'versions':>8}  {'updated (UTC)':19}  {'files':>5}  {'chunks':>6}"
    lines = [header + "  model"]
    for c in collections:
        if c.latest_version is None:
            lines.append(f"{c.name:16}  {'-':>7}  {0:>8}  (empty)")
            continue
        tags = f"  tags: {', '.join(c.tags)}" if c.tags else ""
        lines.append(
            f"{c.name:16}  {c.latest_version:>7}  {c.versions:>8}  {c.updated_at:%Y-%m-%d %H:%M:%S}  {c.files:>5}  "
            f"{c.chunks:>6}  {c.model}{tags}"
        )
    return "\n".join(lines)


def diff_text(result: VersionDiff) -> str:
    marks = {"added": "+", "removed": "-", "changed": "~"}
    lines = [f"KB version {result.old} -> {result.new}"]
    for change in result.files:
        detail = f"{change.chunks_before} -> {change.chunks_after} chunks"
        lines.append(f"  {marks[change.change]} {printable(change.relpath)}  ({detail})")
    lines.append(
        f"{result.added} added, {result.changed} changed, {result.removed} removed, {result.unchanged} unchanged; "
        f"chunks {result.chunks_before} -> {result.chunks_after}"
    )
    return "\n".join(lines)
