"""The kbbuild plugin API: every extension point, as a pluggy hook specification.

A plugin is any module (or object) with functions named like the specs below, decorated with
``kbbuild.hookimpl``, and advertised under the ``kbbuild`` entry point group::

    [project.entry-points.kbbuild]
    my_parser = "my_package.kbbuild_plugin"

kbbuild's own stages are registered the same way (see kbbuild's pyproject.toml), so anything a
built-in does, a third-party plugin can do, replace or extend. The ``register_*`` hooks are called
once per process, when the registry is built; they must be cheap (no model loading: do that lazily
in the provider).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from kbbuild.providers import (
        Chunker,
        Cleaner,
        EmbedderProvider,
        Enricher,
        Exporter,
        LayoutModel,
        OcrEngine,
        Parser,
        QuestionGenerator,
        TableModel,
    )
    from kbbuild.records import Manifest

# The version of this API (the hooks below, ``kbbuild.providers`` and ``kbbuild.records``). A plugin
# states which versions it works with as a module attribute, ``kbbuild_api = ">=1.0,<2"`` (a PEP 440
# specifier), and a plugin whose range excludes this version is refused when it is loaded, with both
# versions named. A minor bump adds hooks, optional provider methods or record fields with defaults;
# a major bump changes or removes something a plugin may rely on.
API_VERSION = "1.0"

PROJECT = "kbbuild"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def kbbuild_register_parsers(register: Callable[[Parser], None]) -> None:
    """Register parsers for file formats.

    Call ``register(parser)`` for each ``kbbuild.providers.Parser``. A parser claims formats through
    ``Parser.formats``; the highest ``Parser.priority`` wins a format unless the user pins a parser
    with ``[parse] <format> = "<name>"`` in kbbuild.toml.
    """


@hookspec
def kbbuild_register_ocr_engines(register: Callable[[OcrEngine], None]) -> None:
    """Register OCR engines (text detection + recognition); ``[ocr] engine = "<name>"`` selects one."""


@hookspec
def kbbuild_register_layout_models(register: Callable[[LayoutModel], None]) -> None:
    """Register page layout models; ``[ocr] layout = "<name>"`` selects one."""


@hookspec
def kbbuild_register_table_models(register: Callable[[TableModel], None]) -> None:
    """Register table structure models for tables in page images; ``[ocr] table = "<name>"``."""


@hookspec
def kbbuild_register_cleaners(register: Callable[[Cleaner], None]) -> None:
    """Register Document -> Document cleaning steps (run in ascending ``Cleaner.order``)."""


@hookspec
def kbbuild_register_chunkers(register: Callable[[Chunker], None]) -> None:
    """Register chunking strategies; the user selects one with ``[chunk] strategy = "<name>"``."""


@hookspec
def kbbuild_register_enrichers(register: Callable[[Enricher], None]) -> None:
    """Register chunk enrichers (e.g. synthetic questions), run after chunking, before embedding."""


@hookspec
def kbbuild_register_question_generators(register: Callable[[QuestionGenerator], None]) -> None:
    """Register synthetic-question generators (doc2query); ``[questions] generator = "<name>"``."""


@hookspec
def kbbuild_register_embedders(register: Callable[[EmbedderProvider], None]) -> None:
    """Register embedding providers; the user selects one with ``[embed] provider = "<name>"``."""


@hookspec
def kbbuild_register_exporters(register: Callable[[Exporter], None]) -> None:
    """Register exporters for ``kbbuild export --format <Exporter.format>``."""


@hookspec
def kbbuild_register_commands(app: typer.Typer) -> None:
    """Add subcommands to the ``kbbuild`` CLI (``@app.command()``), as llm and datasette plugins do."""


@hookspec
def kbbuild_version_committed(kb_path: Path, manifest: Manifest) -> None:
    """Called after a KB version has been committed (its manifest is on disk).

    Use it to push the new version to another system. An exception here is reported but does not
    undo the commit: the version is already durable.
    """
