"""The whole run's memory limit (``[limits] run_memory_mb``): files that fit one at a time but not
side by side are read again alone, and a file that does not fit even alone fails with the limit.

The memory is real: a test parser (shipped to the workers as a plugin, as a third-party parser
would be) holds as many megabytes as its file asks for, touched page by page, for a moment."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kbbuild import hookimpl
from kbbuild.pipeline.limits import MB, RunMeter
from kbbuild.pipeline.pool import ParsePool
from kbbuild.providers import ParseContext, Parser
from kbbuild.records import Document, Element, ElementKind, ExtractionMethod, SourceFile

from .conftest import quiet_settings


class _HoardingParser(Parser):
    """Reads ``hold <MB>`` from a .txt file and holds that much resident memory for 1.5 s."""

    name = "hoard"
    version = "0"
    formats = frozenset({"txt"})
    priority = 1000

    def parse(self, source: SourceFile, context: ParseContext) -> Document:
        size = int(Path(source.path).read_text().split()[1])
        held = b"\x01" * (size * MB)  # written, so resident: not a lazily mapped calloc
        time.sleep(1.5)
        text = f"The file held {len(held) // MB} MB while it was read."
        element = Element(kind=ElementKind.PARAGRAPH, text=text, parser=self.name, method=ExtractionMethod.MARKUP)
        return Document(source=source, parser=self.name, elements=(element,))


class _HoardingPlugin:
    @hookimpl
    def kbbuild_register_parsers(self, register):
        register(_HoardingParser())


def _sources(folder: Path, sizes: dict[str, int]) -> list[SourceFile]:
    sources = []
    for name, size in sizes.items():
        path = folder / name
        path.write_text(f"hold {size}\n", encoding="utf-8")
        sources.append(SourceFile(path=str(path), relpath=name, sha256=name, size=path.stat().st_size, format="txt"))
    return sources


def _settled_run_mb(meter: RunMeter) -> int:
    """The run's resident memory once the workers have loaded their tools: it stops growing."""
    previous, deadline = meter.used(), time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = meter.used()
        if abs(current - previous) < 5 * MB:
            return current // MB
        previous = current
    return previous // MB


def _read(sources: list[SourceFile], headroom_mb: int) -> list:
    """The files through a 2-worker pool whose run limit is ``headroom_mb`` above the run at rest
    (this process and two ready workers), so the test does not depend on how big the test run is."""
    settings = quiet_settings()
    pool = ParsePool(2, settings, extra_plugins=(_HoardingPlugin(),))
    try:
        pool.start(len(sources))
        at_rest = _settled_run_mb(pool.meter)
        pool.limits = settings.limits.model_copy(
            update={"run_memory_mb": at_rest + headroom_mb, "file_memory_mb": 4000}
        )
        return list(pool.map(sources))
    finally:
        pool.close()


@pytest.mark.slow
def test_files_that_fit_alone_but_not_together_are_read_again_alone(tmp_path):
    sources = _sources(tmp_path, {"first.txt": 500, "second.txt": 500, "small.txt": 10})
    results = _read(sources, headroom_mb=800)
    by_name = {result.source.relpath: result for result in results}
    assert [result.source.relpath for result in results] == ["first.txt", "second.txt", "small.txt"]
    assert all(result.error is None for result in results), [result.error for result in results]
    put_back = [r for r in results if any("read again alone" in w for w in r.warnings)]
    assert len(put_back) == 1, [r.warnings for r in results]
    assert "[limits] run_memory_mb" in put_back[0].warnings[-1]
    assert by_name["first.txt"].chunks[0].text.startswith("The file held 500 MB")
    assert by_name["second.txt"].chunks[0].text.startswith("The file held 500 MB")


@pytest.mark.slow
def test_a_file_over_the_run_limit_alone_fails_with_the_limit_named(tmp_path):
    sources = _sources(tmp_path, {"huge.txt": 1200, "small.txt": 10})
    results = _read(sources, headroom_mb=600)
    huge, small = results
    assert small.error is None and small.chunks
    assert huge.error is not None and "over the limit ([limits] run_memory_mb = " in huge.error, huge.error
    assert huge.wall_seconds is not None and huge.wall_seconds < 1.5  # stopped, not let run to its end
