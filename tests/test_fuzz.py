"""Bounded fuzzing of the parse entry points (PDF, HTML/Markdown, plain text) with hypothesis.

The oracle is stricter than "does not crash": ``prepare`` must turn any input into either chunks or
a failure that names the input's problem. A failure reported as an "internal error" is kbbuild
not knowing what went wrong, and is a finding: each one found so far is a regression example below.
``KBBUILD_FUZZ_EXAMPLES`` sets the examples per entry point (CI: the default below);
``KBBUILD_FUZZ_RANDOM=1`` draws new ones instead of CI's fixed sequence.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kbbuild.pipeline.discover import sniff_format
from kbbuild.pipeline.prepare import PrepareTools, prepare
from kbbuild.records import PreparedFile, SourceFile

from . import hostile_corpus
from .conftest import quiet_settings

EXAMPLES = int(os.environ.get("KBBUILD_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # CI runs the same examples every time; KBBUILD_FUZZ_RANDOM=1 explores new ones locally.
    derandomize=not os.environ.get("KBBUILD_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def tools() -> PrepareTools:
    config = quiet_settings()
    config.parse.workers = 1
    config.ocr.enabled = False  # the parsers are under test, not the OCR models (tested elsewhere)
    config.clean.layout_furniture_pages = 0
    return PrepareTools.load(config)


def _prepare(tools: PrepareTools, name: str, data: bytes) -> PreparedFile | None:
    """``data`` as a file called ``name``, read the way ingest reads it; None when discovery would
    already refuse it (a format no parser reads)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        fmt = sniff_format(path, data[:4096])
        if tools.registry.parser_for(fmt, {}) is None:
            return None
        source = SourceFile(
            path=str(path), relpath=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data), format=fmt
        )
        return prepare(source, tools)


def _check(result: PreparedFile | None) -> None:
    if result is None:
        return
    assert isinstance(result, PreparedFile)
    if result.error is not None:
        assert not result.error.startswith("internal error"), result.error
        assert result.chunks == ()


_PDF_TOKENS = [
    b"<<",
    b">>",
    b"[",
    b"]",
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"/Length 99999999",
    b"/Filter /FlateDecode",
    b"/Filter /LZWDecode",
    b"-1",
    b"99999999999999999999",
    b"/Type /Page",
    b"0 0 R",
    b"9 0 R",
    b"(",
    b")",
    b"\\",
    b"%%EOF",
    b"xref",
    b"trailer",
    b"/Kids [",
    b"/Count -5",
    b"/MediaBox [0 0 -1 1e308]",
    b"\x00" * 8,
    b"BT",
    b"ET",
    b"Tj",
    b"/F1 1e30 Tf",
    b"/ToUnicode 5 0 R",
    b"/Encrypt << >>",
]


def _seed_pdfs() -> list[bytes]:
    with tempfile.TemporaryDirectory() as folder:
        good = Path(folder) / "good.pdf"
        hostile_corpus._good_pdf(good)
        return [
            hostile_corpus._text_page_pdf("Harbour dues rise by four percent from January."),
            good.read_bytes(),
        ]


SEEDS = _seed_pdfs()
_mutation = st.tuples(
    st.sampled_from(["insert", "replace", "delete", "truncate"]),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.one_of(st.sampled_from(_PDF_TOKENS), st.binary(min_size=1, max_size=16)),
)


def _mutate(seed: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    data = bytearray(seed)
    for operation, where, payload in mutations:
        at = int(where * len(data))
        if operation == "insert":
            data[at:at] = payload
        elif operation == "replace":
            data[at : at + len(payload)] = payload
        elif operation == "delete":
            del data[at : at + len(payload) * 8]
        elif at > 16:
            del data[at:]
    return bytes(data)


@FUZZ
@given(seed=st.sampled_from(range(len(SEEDS))), mutations=st.lists(_mutation, min_size=1, max_size=6))
@example(seed=0, mutations=[("replace", 0.0, b"<<")])  # found: pdfium "Data format error" after junk
@example(seed=1, mutations=[("insert", 0.203125, b"obj")])  # found: a TypeError inside pdfminer
@example(seed=0, mutations=[("replace", 0.25, b"stream\n")])  # found: a page without MediaBox
def test_fuzzed_pdfs_are_read_or_refused_with_a_reason(tools, seed, mutations):
    _check(_prepare(tools, "fuzz.pdf", _mutate(SEEDS[seed], mutations)))


_MARKUP_PIECES = [
    "<div>",
    "</div>",
    "<table>",
    "</table>",
    "<tr>",
    "<td>",
    "</td>",
    '<td colspan="99999">',
    '<td rowspan="-3">',
    "<th>",
    "<h1>",
    "</h1>",
    "<p>",
    "<br>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "<!--",
    "-->",
    "<script>",
    "<svg><text>",
    "# ",
    "## ",
    "\n",
    "\n\n",
    "|",
    "|---|",
    "> ",
    "- ",
    "1. ",
    "```",
    "[a](",
    "![x](y)",
    "\x00",
    "\ufeff",
    "港務",
    "\u202e",
]
_markup = st.lists(st.one_of(st.sampled_from(_MARKUP_PIECES), st.text(max_size=12)), max_size=60).map("".join)


@FUZZ
@given(text=_markup, suffix=st.sampled_from([".html", ".md"]))
def test_fuzzed_markup_is_read_or_refused_with_a_reason(tools, text, suffix):
    _check(_prepare(tools, "fuzz" + suffix, text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"")
@example(data=b"<!doctype html")  # found: an AttributeError inside unstructured on an empty document
@example(data=b"\xff\xfe" + "UTF-16 with a BOM".encode("utf-16-le"))
def test_fuzzed_bytes_named_txt_are_read_or_refused_with_a_reason(tools, data):
    _check(_prepare(tools, "fuzz.txt", data))
