"""A kill at every step of a commit, then ``gc``: every version ``kbbuild versions`` lists must still
export. Crashes are real SIGKILLs of a real ``python -m kbbuild`` process, placed at exact steps by
``KBBUILD_CRASH_AT`` (see ``kbbuild.faults``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kbbuild import KB, ingest
from kbbuild.faults import CRASH_ENV
from kbbuild.store.tags import version_tag

from .conftest import quiet_settings
from .pdfmaker import notes_pdf

pytestmark = pytest.mark.slow

INGEST_STEPS = [
    "rows_written",
    "old_rows_deleted",
    "indexes_built",
    "tags_written",
    "temp_file_written",  # the manifest's temp file, before its rename
    "manifest_written",
]
GC_STEPS = ["gc_committed", "gc_manifests_removed", "gc_cleaned"]


@pytest.fixture(scope="module")
def three_versions(tmp_path_factory) -> tuple[Path, Path]:
    """(docs, kb): a KB with three versions, each adding or changing a memo."""
    root = tmp_path_factory.mktemp("three")
    docs, kb = root / "docs", root / "kb"
    docs.mkdir()
    notes_pdf(docs / "memo_a.pdf", 1)
    for step in range(3):
        if step == 1:
            notes_pdf(docs / "memo_b.pdf", 2)
        if step == 2:
            notes_pdf(docs / "memo_a.pdf", 3)  # changed content: old rows are deleted
        assert ingest(docs, kb, quiet_settings()).kb_version == step + 1
    return docs, kb


def _copy(source: tuple[Path, Path], target: Path) -> tuple[Path, Path]:
    docs, kb = target / "docs", target / "kb"
    shutil.copytree(source[0], docs)
    shutil.copytree(source[1], kb)
    return docs, kb


def _kbbuild(*args: object, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    command = [sys.executable, "-m", "kbbuild", *(str(a) for a in args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def _assert_every_listed_version_exports(cli, kb: Path, out: Path) -> list[int]:
    listed = [m["kb_version"] for m in json.loads(cli("versions", "--kb", kb, "--json").output)]
    store = KB.open(kb)
    for version in listed:
        target = out / f"v{version}.jsonl"
        result = cli("export", target, "--kb", kb, "--version", version)
        assert result.exit_code == 0, result.output
        rows = target.read_text(encoding="utf-8").splitlines()
        assert len(rows) == store.manifest(version).counts.chunks_total
    return listed


@pytest.mark.parametrize("step", INGEST_STEPS)
def test_a_kill_at_any_commit_step_then_gc_keeps_every_listed_version(three_versions, tmp_path, cli, step):
    docs, kb = _copy(three_versions, tmp_path)
    notes_pdf(docs / "memo_c.pdf", 4)
    notes_pdf(docs / "memo_b.pdf", 5)
    killed = _kbbuild("ingest", docs, "--kb", kb, "--no-progress", crash_at=step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    committed = KB.open(kb).versions()
    assert committed == ([1, 2, 3, 4] if step == "manifest_written" else [1, 2, 3])

    gc = cli("gc", "--keep", "3", "--kb", kb)
    assert gc.exit_code == 0, gc.output
    listed = _assert_every_listed_version_exports(cli, kb, tmp_path)
    assert len(listed) >= 3 and listed[-1] >= committed[-1]

    again = _kbbuild("ingest", docs, "--kb", kb, "--no-progress")
    assert again.returncode == 0, again.stderr
    _assert_every_listed_version_exports(cli, kb, tmp_path)
    assert not list(kb.rglob("versions/.*.tmp")), "a killed run's temp manifest was left behind"


def test_an_unexpected_error_at_commit_is_an_internal_error_not_a_partial_failure(three_versions, tmp_path):
    docs, kb = _copy(three_versions, tmp_path)
    notes_pdf(docs / "memo_c.pdf", 4)
    failed = _kbbuild("ingest", docs, "--kb", kb, "--no-progress", crash_at="indexes_built:raise")
    assert failed.returncode == 5, failed.stderr
    assert "internal error" in failed.stderr and "not committed" in failed.stderr
    assert KB.open(kb).versions() == [1, 2, 3]


@pytest.mark.parametrize("step", GC_STEPS)
def test_a_kill_inside_gc_then_gc_again_keeps_every_listed_version(three_versions, tmp_path, cli, step):
    _, kb = _copy(three_versions, tmp_path)
    killed = _kbbuild("gc", "--keep", "2", "--kb", kb, crash_at=step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    gc = cli("gc", "--keep", "2", "--kb", kb)
    assert gc.exit_code == 0, gc.output
    listed = _assert_every_listed_version_exports(cli, kb, tmp_path)
    assert len(listed) == 2


def test_gc_repairs_the_tags_of_a_version_committed_without_them(three_versions, tmp_path, cli):
    """What an older kbbuild left when it was killed between its manifest and its tags: gc used to
    report the version as kept and let Lance delete its data."""
    _, kb = _copy(three_versions, tmp_path)
    db = KB.open(kb).connect()
    for name in db.list_tables().tables:
        db.open_table(name).tags.delete(version_tag(2))
    gc = cli("gc", "--keep", "3", "--kb", kb)
    assert gc.exit_code == 0, gc.output
    assert "re-protected" in gc.output
    listed = _assert_every_listed_version_exports(cli, kb, tmp_path)
    assert 2 in listed


def test_a_version_whose_data_is_gone_is_a_clear_error(three_versions, tmp_path, cli):
    """A KB damaged by that older gc: query and export say which version is unreadable (exit 4),
    never a raw Lance traceback, and gc still works on the rest."""
    from datetime import timedelta

    _, kb = _copy(three_versions, tmp_path)
    db = KB.open(kb).connect()
    for name in db.list_tables().tables:
        table = db.open_table(name)
        table.tags.delete(version_tag(1))
        table.to_lance().cleanup_old_versions(
            older_than=timedelta(0), delete_unverified=True, error_if_tagged_old_versions=False
        )
    result = cli("export", tmp_path / "v1.jsonl", "--kb", kb, "--version", "1")
    assert result.exit_code == 4
    assert "KB version 1 cannot be read" in result.output and "Traceback" not in result.output
    gc = cli("gc", "--keep", "3", "--kb", kb)
    assert gc.exit_code == 0, gc.output
    assert "KB version 1 cannot be read any more" in gc.output
