"""The typed records every pipeline stage passes to the next, and nothing else.

Data flows one way: ``SourceFile`` -> ``Document`` (a list of ``Element``) -> ``Chunk`` -> ``ChunkRow``
(a chunk with its vector, as stored in LanceDB). Stages never exchange dicts of strings: a plugin
that receives a ``Document`` can rely on every field below, and JSON Schemas of these models are
published in ``schemas/`` for consumers outside Python.

Conventions that every stage relies on:
- ``page`` is the 1-based PDF page index, never the printed page label (labels go in ``meta``).
- ``bbox`` is in PDF points with the origin at the *top-left* of the page (y grows downwards), the
  same orientation as rendered images, so OCR boxes and text-layer boxes are directly comparable.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MetaValue = str | int | float | bool | None


class _Record(BaseModel):
    """Immutable, strict records: a stage returns new records instead of editing its input."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ElementKind(str, Enum):
    """What a piece of a document *is*; chunking and cleaning decide by kind, not by guessing again."""

    TITLE = "title"
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    TABLE = "table"
    FIGURE = "figure"
    CAPTION = "caption"
    FORMULA = "formula"
    FOOTNOTE = "footnote"
    CODE = "code"
    PAGE_HEADER = "page_header"
    PAGE_FOOTER = "page_footer"
    PAGE_NUMBER = "page_number"
    WATERMARK = "watermark"
    OTHER = "other"

    @property
    def is_furniture(self) -> bool:
        """Page furniture repeats on every page and must not be indexed as body text."""
        return self in (
            ElementKind.PAGE_HEADER,
            ElementKind.PAGE_FOOTER,
            ElementKind.PAGE_NUMBER,
            ElementKind.WATERMARK,
        )


_FURNITURE = frozenset(
    {ElementKind.PAGE_HEADER, ElementKind.PAGE_FOOTER, ElementKind.PAGE_NUMBER, ElementKind.WATERMARK}
)


class ExtractionMethod(str, Enum):
    """How the text was obtained: it decides how far the text can be trusted."""

    TEXT_LAYER = "text_layer"
    OCR = "ocr"
    TABLE = "table"
    MARKUP = "markup"


class BBox(_Record):
    """A rectangle in PDF points, origin top-left."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


class OcrLine(_Record):
    """One line of text an OCR engine read, in the pixel space of the image it was given."""

    text: str
    bbox: BBox
    confidence: float


class LayoutRegion(_Record):
    """A region a layout model found, in pixels. ``kind`` uses kbbuild's names: title, text, figure,
    caption, table, header, footer, reference, formula (backends map their own classes to these)."""

    kind: str
    bbox: BBox
    score: float


class SourceFile(_Record):
    """One input file, identified by its content hash so that renames and mtimes do not matter."""

    path: str = Field(description="Absolute path on the machine that ran the ingest.")
    relpath: str = Field(description="Path relative to the ingest root, POSIX separators; the KB's key.")
    sha256: str
    size: int
    format: str = Field(description="Detected from content, not the extension: pdf, docx, html, ...")
    modified: datetime | None = Field(default=None, description="The file's modification time (UTC) when discovered.")


class Element(_Record):
    """One block of a document in reading order."""

    kind: ElementKind
    text: str
    page: int | None = Field(default=None, description="1-based page index; None for unpaginated formats.")
    bbox: BBox | None = None
    level: int | None = Field(default=None, description="Heading level, 1 = top; None for non-headings.")
    font_size: float | None = None
    bold: bool | None = None
    parser: str = Field(description="Name of the parser plugin that produced the element.")
    method: ExtractionMethod = ExtractionMethod.TEXT_LAYER
    confidence: float | None = Field(default=None, description="OCR confidence 0..1 where there is one.")
    html: str | None = Field(default=None, description="HTML rendering, for tables.")
    meta: dict[str, MetaValue] = Field(default_factory=dict)


class PageInfo(_Record):
    """What the parser learned about a page as a whole."""

    number: int
    width: float
    height: float
    n_chars: int = Field(description="Characters in the text layer of the page.")
    has_text_layer: bool
    image_area_ratio: float = Field(default=0.0, description="Share of the page covered by images.")
    garbage_ratio: float = Field(
        default=0.0, description="Share of text-layer characters that are unmapped glyphs, e.g. (cid:12)."
    )
    ocr: bool = Field(default=False, description="The page's elements come from OCR.")
    label: str | None = None

    @property
    def looks_scanned(self) -> bool:
        """No usable text, but an image covering much of the page: a scan that needs OCR."""
        return not self.has_text_layer and self.image_area_ratio >= 0.3

    @property
    def looks_mixed(self) -> bool:
        """A little text layer on a page that is mostly image: a scan with a stamp or a typed
        header, or text rendered as graphics. The words in the images need OCR too."""
        return self.has_text_layer and self.image_area_ratio >= 0.5 and self.n_chars < 500

    @property
    def needs_ocr(self) -> bool:
        """A scan, a mixed page, or a text layer of glyphs without Unicode mapping (unreadable)."""
        return self.looks_scanned or self.looks_mixed or self.garbage_ratio > 0.5


class CleaningCounts(_Record):
    """What the cleaning steps took out or changed, per file and summed per version, so that a user
    can see that stripping or redaction happened and how much (nothing disappears silently)."""

    headers: int = 0
    footers: int = 0
    page_numbers: int = 0
    watermarks: int = 0
    noise_lines: int = Field(default=0, description="Lines dropped by the quality filter (symbols, OCR speckle).")
    near_empty_pages: int = Field(default=0, description="Pages whose few stray characters were dropped.")
    duplicates_exact: int = Field(default=0, description="Chunks not stored because the same text is already in.")
    duplicates_near: int = Field(default=0, description="Chunks not stored because a near-identical one is in.")
    pii: dict[str, int] = Field(default_factory=dict, description="Redactions per kind: email, phone, cn_id, ...")

    def __add__(self, other: CleaningCounts) -> CleaningCounts:
        numbers = {
            name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields if name != "pii"
        }
        pii = dict(self.pii)
        for kind, count in other.pii.items():
            pii[kind] = pii.get(kind, 0) + count
        return CleaningCounts(**numbers, pii=dict(sorted(pii.items())))

    @property
    def furniture(self) -> int:
        return self.headers + self.footers + self.page_numbers + self.watermarks


class Document(_Record):
    """A parsed file: its elements in reading order, plus page facts and parser warnings."""

    source: SourceFile
    parser: str
    elements: tuple[Element, ...]
    pages: tuple[PageInfo, ...] = ()
    title: str | None = None
    warnings: tuple[str, ...] = ()
    cleaning: CleaningCounts = Field(default_factory=CleaningCounts, description="Filled in by the cleaners.")
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="The file's own descriptive properties, where the format has them (a PDF's Info: title, "
        "subject, author), lower-case keys.",
    )
    identity: tuple[str, ...] = Field(
        default=(),
        description="Whose document this is and for when (running header, head of the first page, properties, "
        "file name), gathered by the identity cleaner: it survives furniture stripping in every chunk.",
    )
    window: int = Field(
        default=0,
        ge=0,
        description="Which window of its file this is (``parse.windows``): 0 for the first, or for a file read "
        "whole. What is judged from a file's opening (cover banners, identity) is judged on window 0; later "
        "windows carry what it found.",
    )
    continues: bool = Field(
        default=False,
        description="More windows of the same file follow this one: what can only be judged at a file's end "
        "(a heading on page 1 that nothing closes is a cover banner) is left alone.",
    )

    @property
    def pages_without_text(self) -> tuple[int, ...]:
        """Pages that had no usable text layer and were not OCRed: their text is missing."""
        return tuple(p.number for p in self.pages if p.needs_ocr and not p.ocr)

    @property
    def pages_ocr(self) -> tuple[int, ...]:
        return tuple(p.number for p in self.pages if p.ocr)


class Chunk(_Record):
    """A retrievable unit of text with enough provenance to cite it."""

    id: str = Field(description="Stable: derived from the source path, the text and its occurrence.")
    source: str = Field(description="SourceFile.relpath of the file the chunk comes from.")
    source_sha256: str
    chunk_index: int = Field(description="Position of the chunk within its document, from 0.")
    text: str
    heading_path: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    kinds: tuple[ElementKind, ...] = ()
    n_tokens: int
    meta: dict[str, MetaValue] = Field(default_factory=dict)
    document: str = Field(
        default="",
        description="The document's identity line (Document.identity joined), embedded and searched with the "
        "chunk; empty when [chunk] document_context is off.",
    )

    @staticmethod
    def make_id(source: str, text: str, occurrence: int = 0) -> str:
        """Same file path + same text (+ which repeat of it) -> same id, on every re-ingest."""
        digest = hashlib.sha256(f"{source}\x00{occurrence}\x00{text}".encode()).hexdigest()
        return digest[:32]

    def embedding_text(self, with_heading_path: bool) -> str:
        """The heading path tells the embedder what a terse chunk is about ("Costs" of *what*), the
        document line whose ("Costs" of which company, in which quarter)."""
        lines = [self.document] if self.document else []
        if with_heading_path and self.heading_path:
            lines.append(" > ".join(self.heading_path))
        return "\n".join([*lines, self.text])

    def search_words(self) -> str:
        """What the full-text index reads: the document line, the heading path and the text."""
        return " ".join([self.document, *self.heading_path, self.text]).strip()


ROW_FORMAT = 3  # bump when the table columns change: KBs written before are rebuilt on the next ingest


class ChunkRow(_Record):
    """A row of the LanceDB ``chunks`` table (the vector column is ``vector``)."""

    id: str
    source: str
    source_sha256: str
    chunk_index: int
    text: str
    heading_path: list[str]
    document: str = Field(description="Chunk.document: whose document, for when.")
    pages: list[int]
    page_start: int | None
    page_end: int | None
    kinds: list[str]
    n_tokens: int
    parser: str
    meta_json: str = Field(description="Chunk.meta serialised as JSON (Arrow needs a fixed schema).")
    search_text: str = Field(
        description="Heading path and text as space-separated words (Chinese cut by jieba): the full-text index."
    )
    kb_version: int = Field(description="The KB version whose ingest wrote this row.")
    vector: list[float]


class QuestionRow(_Record):
    """A row of the LanceDB ``questions`` table: a synthetic question a chunk answers (doc2query)."""

    id: str = Field(description="Hash of the chunk id and the question text.")
    chunk_id: str = Field(description="The chunks-table row this question points to.")
    source: str
    text: str
    score: float = Field(description="Cosine of question (as query) and chunk (as document) in the KB's model.")
    kept: bool = Field(description="Passed the filter; only kept questions are searched and exported.")
    dropped: str = Field(description="Why the filter dropped it ('' when kept): not a question, low score, ...")
    generator: str = Field(description="Generator backend and model that wrote it, e.g. hf:smollm2.")
    search_text: str = Field(description="The question as space-separated words, for the full-text index.")
    kb_version: int
    vector: list[float]


def engine_precision(engine: str) -> str:
    """The vector space an embedding engine's output lives in ("torch-bf16" -> "bf16", "onnx" ->
    "float"): engines of one precision give the same vectors to float rounding."""
    return next((p for p in ("int8", "bf16") if engine.endswith(f"-{p}")), "float")


class EmbeddingModelInfo(_Record):
    """Everything that must match between building a KB and querying it."""

    name: str = Field(description="Canonical model name, e.g. BAAI/bge-m3.")
    provider: str = Field(description="Embedder plugin that loaded it, e.g. flagembedding.")
    location: str = Field(description="Hub name or local folder it was loaded from.")
    dim: int
    normalize: bool
    pooling: str
    max_length: int
    query_instruction: str | None = None
    backend: str = Field(
        default="torch",
        description="Engine that ran the model: torch, onnx (ONNX Runtime; the same vectors to float rounding), "
        "torch-bf16 (PyTorch with bfloat16 matrix products) or onnx-int8 (ONNX Runtime with int8 weights); "
        "bf16 and int8 vectors are each a vector space of their own.",
    )

    @property
    def precision(self) -> str:
        """'float', 'bf16' or 'int8': the part of the engine that decides which vectors are comparable."""
        return engine_precision(self.backend)

    def compatible_with(self, other: EmbeddingModelInfo) -> bool:
        """Vectors are comparable only if model, pooling and normalisation all agree."""
        return (self.name, self.dim, self.normalize, self.pooling, self.precision) == (
            other.name,
            other.dim,
            other.normalize,
            other.pooling,
            other.precision,
        )


class PreparedFile(_Record):
    """One file as the parse worker hands it on: parsed, cleaned and chunked, or failed with a reason.

    Only this travels from a worker process to the embedding stage (never the rendered pages or the
    full element list), so what crosses the process boundary is about the size of the chunk text.
    """

    source: SourceFile
    parser: str
    chunks: tuple[Chunk, ...] = ()
    pages: int = 0
    pages_without_text: tuple[int, ...] = ()
    pages_ocr: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    cleaning: CleaningCounts = Field(default_factory=CleaningCounts)
    furniture: tuple[str, ...] = ()
    error: str | None = Field(default=None, description="Why the file failed; then nothing else is filled in.")
    part: bool = Field(
        default=False,
        description="A window of a file too large to send whole: only ``chunks`` is filled in, and more of the "
        "file follows, ending with the PreparedFile (part=False) that completes it.",
    )
    seconds: dict[str, float] = Field(default_factory=dict, description="Time per worker stage: parse, clean, chunk.")
    document_date: datetime | None = Field(
        default=None, description="The date the document gives itself in its properties (a PDF's CreationDate)."
    )
    rows_staged: bool = Field(
        default=False,
        description="The Ray engine's actors wrote this file's chunk rows (every chunk, duplicates included) as "
        "uncommitted Lance fragments: the driver commits them with the run and deletes the rows of chunks that its "
        "duplicate index links to stored ones, instead of writing rows itself.",
    )
    peak_memory_mb: float | None = Field(
        default=None,
        description="Peak resident memory of the worker process while it read this file (sampled every 0.1 s); "
        "None when the file was read in the driver.",
    )
    wall_seconds: float | None = Field(default=None, description="Wall time its worker spent on this file.")


class FileStatus(str, Enum):
    INGESTED = "ingested"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    REMOVED = "removed"
    SKIPPED = "skipped"  # present but deliberately not read (a link out of the input folder): rows removed


class DuplicateLink(_Record):
    """Chunks of a file that were not stored, and the stored chunk with the same (or nearly the same)
    text. A file's repeats of one stored chunk share one link (their pages merged), so that a log
    repeating one line 100,000 times costs the manifest one entry, not 100,000."""

    chunk_id: str = Field(description="Id the first of these chunks would have had.")
    pages: list[int]
    duplicate_of: str = Field(description="Id of the stored chunk.")
    duplicate_of_source: str = Field(description="Source file of the stored chunk.")
    near: bool = Field(description="True for a near-duplicate, False for the same normalised text.")
    count: int = Field(default=1, description="How many chunks of this file the link stands for.")


class FileRecord(_Record):
    """One input file's fate in one ingest; the manifest keeps one per file."""

    relpath: str
    sha256: str | None
    size: int | None
    format: str | None
    status: FileStatus
    parser: str | None = None
    pages: int = 0
    pages_without_text: list[int] = Field(default_factory=list)
    pages_ocr: list[int] = Field(default_factory=list)
    chunks: int = 0
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    peak_memory_mb: float | None = Field(
        default=None, description="Peak resident memory of the worker process that read this file, if one did."
    )
    read_seconds: float | None = Field(
        default=None, description="Wall time the worker process spent reading this file, if one did."
    )
    cleaning: CleaningCounts = Field(default_factory=CleaningCounts)
    furniture: list[str] = Field(
        default_factory=list, description="Distinct header/footer/watermark lines stripped from the body (up to 20)."
    )
    duplicates: list[DuplicateLink] = Field(
        default_factory=list, description="Chunks of this file not stored because their text is already in the KB."
    )
    questions_generated: int = Field(default=0, description="Synthetic question candidates generated.")
    questions_kept: int = Field(default=0, description="Questions kept by the filter and stored.")
    question_failures: int = Field(default=0, description="Chunks whose generation failed (e.g. endpoint errors).")
    questions_reused: int = Field(
        default=0, description="Chunks whose questions came from the previous version (same text, same generator)."
    )
    # The dates a search can filter on (Dify's before/after): none for files recorded before they existed.
    modified: datetime | None = Field(default=None, description="File modification time (UTC) at the last ingest.")
    ingested: datetime | None = Field(
        default=None, description="When the version that wrote this file's current rows was made (UTC)."
    )
    document_date: datetime | None = Field(
        default=None, description="The date the document gives itself in its properties (a PDF's CreationDate)."
    )


def file_record(source: SourceFile, status: FileStatus, **fields) -> FileRecord:
    """The record of one input file, identified by its path, hash, size and format."""
    return FileRecord(
        relpath=source.relpath,
        sha256=source.sha256,
        size=source.size,
        format=source.format,
        status=status,
        modified=source.modified,
        **fields,
    )


class PluginInfo(_Record):
    name: str
    version: str
    kind: str


class VersionCounts(_Record):
    files_seen: int
    files_ingested: int
    files_unchanged: int
    files_failed: int
    files_removed: int
    files_skipped: int = Field(default=0, description="Refused links and special files, listed with reasons.")
    pages: int
    pages_without_text: int
    pages_ocr: int
    chunks_added: int
    chunks_removed: int
    chunks_total: int
    cleaning: CleaningCounts = Field(default_factory=CleaningCounts, description="Summed over the files processed.")
    questions_generated: int = 0
    questions_kept: int = 0
    question_failures: int = 0
    questions_reused: int = 0


class Manifest(_Record):
    """The commit record of one KB version: a version exists if and only if its manifest does."""

    kb_version: int
    parent_version: int | None
    created_at: datetime
    kbbuild_version: str
    table_versions: dict[str, int] = Field(description="LanceDB table name -> table version of this KB version.")
    config: dict[str, object] = Field(description="The effective settings of the run (see config schema).")
    config_fingerprint: str = Field(description="Hash of the settings that change chunks or vectors.")
    embedding: EmbeddingModelInfo
    plugins: list[PluginInfo]
    files: list[FileRecord]
    counts: VersionCounts
    timings: dict[str, float] = Field(description="Seconds per stage.")
    notes: list[str] = Field(default_factory=list)
    operation: Literal["ingest", "rollback", "gc"] = Field(
        default="ingest",
        description="What made the version: an ingest; a rollback (the content of `restored_from` made current "
        "again); gc (the parent's content with its tables compacted).",
    )
    restored_from: int | None = Field(default=None, description="rollback: the KB version whose content this is.")
    removed_versions: list[int] = Field(
        default_factory=list, description="gc: the KB versions it deleted (their data is gone)."
    )
    collection: str = Field(default="default", description="The collection of the KB folder this version belongs to.")


class GcReport(_Record):
    """What ``kbbuild gc`` did."""

    kept: list[int] = Field(description="KB versions left after gc.")
    removed: list[int] = Field(description="KB versions deleted.")
    tagged_kept: list[int] = Field(description="Versions kept only or also because a tag names them.")
    new_version: int | None = Field(description="The version gc committed for the compacted tables, if any.")
    compacted: dict[str, int] = Field(description="Table -> fragments merged by compaction.")
    bytes_removed: int = Field(description="Bytes of table data and metadata Lance deleted.")
    notes: list[str] = Field(
        default_factory=list, description="What gc repaired first, and kept versions that had already lost data."
    )


class CollectionInfo(_Record):
    """One collection of a KB folder, as ``kbbuild list`` shows it."""

    name: str
    path: str
    versions: int
    latest_version: int | None
    updated_at: datetime | None
    files: int
    chunks: int
    model: str | None
    tags: list[str]


class AlsoIn(_Record):
    """Another place with the same (or nearly the same) text, stored once as the hit's chunk."""

    source: str
    pages: list[int]
    near: bool


class FileChange(_Record):
    relpath: str
    change: Literal["added", "changed", "removed"]
    chunks_before: int
    chunks_after: int


class VersionDiff(_Record):
    """What changed between two KB versions, file by file (from their manifests)."""

    old: int
    new: int
    files: list[FileChange]
    added: int
    changed: int
    removed: int
    unchanged: int
    chunks_before: int
    chunks_after: int


class Match(_Record):
    """One result list a hit appeared in, and where: why the hit was found."""

    via: Literal["vector", "fts", "question-vector", "question-fts"] = Field(
        description="vector: the chunk's embedding; fts: its words (BM25); question-*: a synthetic question of it."
    )
    rank: int = Field(description="1-based position in that list.")
    score: float = Field(description="The list's own score: cosine similarity (vector) or BM25 (fts).")


class SearchHit(_Record):
    """One query result, with what a reader needs to cite it and to see why it was found."""

    rank: int
    score: float = Field(
        description="What hits are ordered by: the reranker's relevance (0..1) with --rerank; else the fused "
        "score when two lists were searched ([query] fusion: dbsf sums each list's score scaled to 0..1, rrf sums "
        "1/(rrf_k + rank)); else the one list's score (cosine or BM25)."
    )
    similarity: float = Field(description="Cosine similarity of query and chunk embeddings, whatever the mode.")
    chunk_id: str
    source: str
    pages: list[int]
    heading_path: list[str]
    text: str
    kb_version: int
    document: str = Field(default="", description="Whose document and for when (empty in KBs built before it).")
    matched_by: list[Match] = Field(default_factory=list, description="The lists the hit was found in.")
    rerank_score: float | None = Field(default=None, description="The cross-encoder's relevance (0..1), if reranked.")
    also_in: list[AlsoIn] = Field(
        default_factory=list, description="Duplicates of this chunk that were linked to it instead of stored."
    )
    matched_question: str | None = Field(
        default=None, description="The stored synthetic question of this chunk that matched the query best."
    )


class Evidence(_Record):
    """Where the answer to an evaluation question is: a file and page, a text span, or both."""

    doc: str | None = Field(default=None, description="File path; compared from the end with the KB's relpaths.")
    page: int | None = Field(default=None, description="1-based PDF page index; None = anywhere in the file.")
    text: str | None = Field(default=None, description="A span the answering chunk contains (whitespace ignored).")


class EvalQuestion(_Record):
    qid: str
    question: str
    evidence: list[Evidence]


class EvalConfigResult(_Record):
    """Scores of one search configuration (mode, questions, reranking) over the question set."""

    name: str = Field(description="e.g. hybrid, vector+questions, hybrid+rerank.")
    questions: int
    recall: dict[str, float] = Field(description="'@k' -> share of questions with an answering hit in the top k.")
    mrr: float = Field(description="Mean reciprocal rank of the first answering hit (0 when none in the top k).")
    all_evidence_at_depth: float | None = Field(
        description="Multi-evidence questions: share with every piece of evidence answered in the top k."
    )
    multi_evidence_questions: int
    seconds_per_query: float
    first_hit_ranks: dict[str, int | None] = Field(description="qid -> rank of the first answering hit.")


class EvalReport(_Record):
    """Output of ``kbbuild eval --json``."""

    kb_path: str
    collection: str
    kb_version: int
    questions_file: str
    depth: int
    results: list[EvalConfigResult]
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Configurations that could not run here, and why."
    )
    evidence_missing: dict[str, str] = Field(
        default_factory=dict,
        description="Questions whose evidence files are none of them in this KB version (never ingested, or "
        "failed), and why: left out of the scores unless --count-missing, since no search could answer them.",
    )
    counted_missing: bool = Field(default=False, description="True when those questions were scored as misses.")


class ExportedChunk(_Record):
    """One chunk as ``kbbuild export --format jsonl|parquet`` writes it (one JSON line or Parquet row)."""

    id: str
    source: str
    chunk_index: int
    text: str
    heading_path: list[str]
    document: str = Field(default="", description="Whose document and for when (empty in KBs built before it).")
    pages: list[int] = Field(description="1-based PDF page indices the chunk's text comes from.")
    kinds: list[str] = Field(description="Element kinds in the chunk: paragraph, table, list_item, ...")
    n_tokens: int
    kb_version: int = Field(description="The KB version whose ingest wrote the chunk.")
    collection: str
    also_in: list[AlsoIn] = Field(
        default_factory=list, description="Places whose duplicate text this chunk stands for."
    )
    vector: list[float] | None = Field(default=None, description="The embedding, with --vectors; else null.")


class FaqPair(_Record):
    """One line of ``kbbuild export --format faq``: a kept synthetic question and the chunk answering it."""

    question: str
    answer: str
    score: float = Field(description="Cosine of the question and its chunk in the KB's model.")
    generator: str
    chunk_id: str
    source: str
    pages: list[int]
    heading_path: list[str]
    kb_version: int


class MarkdownDocument(_Record):
    """One entry of ``index.json`` in a ``kbbuild export --format markdown`` folder."""

    source: str = Field(description="The input file (relative path).")
    path: str = Field(description="The Markdown file, relative to the export folder.")
    sha256: str | None
    chunks: int = Field(description="Stored chunks written into the file.")
    duplicates: int = Field(description="Passages stored once elsewhere and written here again from that copy.")
    pages: int


class MarkdownIndex(_Record):
    kb_version: int
    collection: str
    documents: list[MarkdownDocument]


class IngestReport(_Record):
    """What one ``kbbuild ingest`` did; printed as the run summary (or as JSON with ``--json``)."""

    kb_path: str
    kb_version: int | None = Field(description="The version committed by this run; None if none was.")
    exit_code: int
    files: list[FileRecord]
    unsupported: list[str] = Field(description="Files skipped because no parser reads their format.")
    counts: VersionCounts
    timings: dict[str, float] = Field(
        description="Seconds per stage: parse/clean/chunk summed over the parse workers, the rest in the driver."
    )
    seconds: float
    notes: list[str]
    workers: int = Field(default=0, description="Parse worker processes used (0: files were prepared in the driver).")
