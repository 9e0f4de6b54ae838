"""What is in the input folder, and only that, reaches the KB; what cannot be read is reported and
costs nothing that was committed before. Each test reproduces a defect found by fault injection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from kbbuild import KB, ingest
from kbbuild.pipeline.discover import sniff_format
from kbbuild.records import FileStatus

from .conftest import quiet_settings
from .pdfmaker import notes_pdf

pytestmark = pytest.mark.slow

SECRET = "Classified launch sequence for the harbour crane: orange, walrus, seventeen."


def _rows(kb: Path, version: int | None = None) -> dict[str, list[str]]:
    store = KB.open(kb)
    table = store.chunks_table(store.manifest(version)).to_arrow().select(["source", "text"])
    rows: dict[str, list[str]] = {}
    for source, text in zip(table["source"].to_pylist(), table["text"].to_pylist(), strict=True):
        rows.setdefault(source, []).append(text)
    return {source: sorted(texts) for source, texts in rows.items()}


def _deny_listing(folder: Path, monkeypatch) -> None:
    """Make ``folder`` unlistable. Permission bits do it for an ordinary user; root (CI here) is not
    bound by them, so for root the same PermissionError is injected at the one OS call that lists
    folders."""
    folder.chmod(0)
    if os.geteuid() == 0:
        real = os.scandir
        target = os.path.realpath(folder)

        def scandir(path="."):
            if os.path.realpath(path) == target:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_folder_keeps_its_files_rows(tmp_path, monkeypatch):
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    (docs / "sub").mkdir(parents=True)
    notes_pdf(docs / "top.pdf", 1)
    notes_pdf(docs / "sub" / "inner.pdf", 2)
    assert ingest(docs, kb, quiet_settings()).exit_code == 0
    before = _rows(kb)

    _deny_listing(docs / "sub", monkeypatch)
    try:
        report = ingest(docs, kb, quiet_settings())
    finally:
        (docs / "sub").chmod(0o755)
    assert report.kb_version == 2 and report.exit_code == 1
    failed = {f.relpath: f.error for f in report.files if f.status is FileStatus.FAILED}
    assert "cannot list folder" in failed["sub/"] and "Permission denied" in failed["sub/"]
    assert "cannot be listed" in failed["sub/inner.pdf"]
    assert report.counts.files_removed == 0 and report.counts.chunks_removed == 0
    assert _rows(kb, 2) == before
    assert any("sub/inner.pdf: failed this time" in note for note in report.notes)

    monkeypatch.undo()
    again = ingest(docs, kb, quiet_settings())
    assert again.exit_code == 0 and again.counts.files_removed == 0
    assert "sub/" not in {f.relpath for f in again.files}
    assert _rows(kb, 3) == before


def test_links_out_of_the_input_are_refused_and_reported(tmp_path, cli):
    docs, kb, outside = tmp_path / "docs", tmp_path / "kb", tmp_path / "outside"
    docs.mkdir()
    outside.mkdir()
    notes_pdf(docs / "memo.pdf", 1)
    secret = outside / "secret.md"
    secret.write_text(f"# Launch\n\n{SECRET}\n", encoding="utf-8")
    (docs / "notes.md").symlink_to(secret)
    (docs / "elsewhere").symlink_to(outside, target_is_directory=True)
    (docs / "gone.md").symlink_to(tmp_path / "no-such-file.md")
    (docs / "loop.md").symlink_to(docs / "loop.md")

    result = cli("ingest", docs, "--kb", kb, "--no-progress")
    assert result.exit_code == 1, result.output  # the dangling link and the loop are failures
    out = result.output
    assert "refused:" in out and "2 refused" in out
    assert "notes.md: symbolic link to a file outside the input folder; not followed (use --follow-links)" in out
    assert "elsewhere: symbolic link to a folder outside the input folder" in out
    assert "gone.md: dangling symbolic link" in out
    assert "loop.md: symbolic link loop" in out
    exported = tmp_path / "all.jsonl"
    assert cli("export", exported, "--kb", kb).exit_code == 0
    assert "walrus" not in exported.read_text(encoding="utf-8")

    followed = cli("ingest", docs, "--kb", kb, "--no-progress", "--follow-links")
    assert followed.exit_code == 1, followed.output
    assert any("walrus" in text for text in _rows(kb)["elsewhere/secret.md"])
    linked = json.loads(cli("versions", "--kb", kb, "--json").output)[-1]["files"]
    notes = next(f for f in linked if f["relpath"] == "notes.md")
    assert notes["status"] == "ingested" and notes["duplicates"][0]["duplicate_of_source"] == "elsewhere/secret.md"

    # A KB that took a link in once gives it back up when links are refused again.
    refused = cli("ingest", docs, "--kb", kb, "--no-progress")
    assert refused.exit_code == 1, refused.output
    assert not any("walrus" in text for texts in _rows(kb).values() for text in texts)
    assert set(_rows(kb)) == {"memo.pdf"}


def test_a_file_name_that_is_not_utf8_is_stored_and_the_run_commits(tmp_path, cli):
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    notes_pdf(docs / "plain.pdf", 1)
    latin1 = os.fsdecode(os.fsencode(docs) + b"/r\xe9sum\xe9.pdf")  # Latin-1 bytes, as an old zip leaves
    notes_pdf(Path(latin1), 2)
    result = cli("ingest", docs, "--kb", kb, "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kb_version"] == 1
    assert {f["relpath"] for f in report["files"]} == {"plain.pdf", "r%E9sum%E9.pdf"}
    assert "r%E9sum%E9.pdf" in _rows(kb)
    again = ingest(docs, kb, quiet_settings())
    assert again.counts.files_unchanged == 2 and again.counts.files_ingested == 0


def test_a_newline_in_a_file_name_cannot_forge_summary_lines(tmp_path, cli):
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    notes_pdf(docs / "memo.pdf", 1)
    (docs / "x.pdf\nkbbuild: everything ingested, exit code 0 (ok)").write_bytes(b"%PDF-1.7\nbroken")
    result = cli("ingest", docs, "--kb", kb, "--no-progress")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert not any(line.startswith("kbbuild: everything ingested") for line in lines)
    assert any(line.startswith("  x.pdf\\nkbbuild: everything ingested") for line in lines)


def test_markdown_export_stays_inside_its_folder_for_a_hostile_kb(tmp_path, cli):
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    notes_pdf(docs / "memo.pdf", 1)
    ingest(docs, kb, quiet_settings())
    # A KB edited by hand (or built by another tool) whose source points up and out.
    table = KB.open(kb).connect().open_table("chunks")
    table.update(where="source = 'memo.pdf'", values={"source": "../../escaped"})
    manifest_file = kb / "versions" / "00000001.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["table_versions"]["chunks"] = table.version
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")

    out = tmp_path / "export" / "md"
    result = cli("export", out, "--kb", kb, "-f", "markdown")
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob("escaped*")) and not list((tmp_path / "export").glob("escaped*"))
    written = [p.relative_to(out).as_posix() for p in out.rglob("*.md")]
    assert written == ["%2E%2E/%2E%2E/escaped.md"]


def test_a_note_that_mentions_a_pdf_header_is_not_a_pdf(tmp_path, cli):
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    (docs / "pdf-notes.md").write_text(
        "# How PDF files start\n\nEvery PDF begins with a header line such as `%PDF-1.7`, then objects.\n",
        encoding="utf-8",
    )
    result = cli("ingest", docs, "--kb", kb, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "1 ingested" in result.output
    assert sniff_format(Path("notes.txt"), b"junk\n%PDF-1.4\n") == "txt"
    assert sniff_format(Path("scan.pdf"), b"\x00" * 100 + b"%PDF-1.4\n") == "pdf"  # the 1,024-byte allowance
    assert sniff_format(Path("mislabelled.md"), b"%PDF-1.4\n") == "pdf"  # content wins at offset 0


def _mount_tmpfs(target: Path, size: str) -> bool:
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


def test_a_full_disk_is_a_message_and_the_previous_version_stays(tmp_path):
    disk = tmp_path / "small-disk"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("mounting a 1 MB tmpfs (to fill it) needs root; CI runs as root")
    try:
        one, many = tmp_path / "one", tmp_path / "many"
        one.mkdir()
        many.mkdir()
        notes_pdf(one / "m00.pdf", 0, sections=12)
        for number in range(40):
            notes_pdf(many / f"m{number:02d}.pdf", number, sections=12)
        kb = disk / "kb"
        assert ingest(one, kb, quiet_settings()).kb_version == 1
        before = _rows(kb)
        command = [sys.executable, "-m", "kbbuild", "ingest", str(many), "--kb", str(kb), "--no-progress"]
        full = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert full.returncode == 4, full.stderr
        assert "No space left on device" in full.stderr and "KB version 1 is still the current one" in full.stderr
        assert "Traceback" not in full.stderr
        assert KB.open(kb).versions() == [1] and _rows(kb) == before
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _children(pid: int) -> set[int]:
    """Every descendant: a file worker reading one long PDF starts the page-range helpers itself.
    Threads and processes come and go while this reads /proc: one that is gone has no children."""
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:  # gone (or a zombie) since it was listed
        return ""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"


@pytest.mark.parametrize("layout", ["one long PDF", "many files"])
def test_parse_workers_die_with_a_killed_ingest(tmp_path, layout):
    """Both pools: page ranges of one long PDF, and the file workers of a batch."""
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    docs.mkdir()
    from .pdfmaker import running_furniture_pdf

    for number in range(1 if layout == "one long PDF" else 12):
        running_furniture_pdf(docs / f"long_{number}.pdf", pages=400 if layout == "one long PDF" else 60)
    config = tmp_path / "kbbuild.toml"
    config.write_text("[parse]\nworkers = 2\n\n[ingest]\nworkers = 2\n", encoding="utf-8")
    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "-c", str(config)]
    process = subprocess.Popen([*command, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while len(workers) < 2:
            assert process.poll() is None, "the ingest ended before its pool started"
            assert time.monotonic() < deadline, "no pool workers appeared"
            workers = {pid for pid in _children(process.pid) if "spawn" in _cmdline(pid)}
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "pool workers outlived the killed ingest"
    finally:
        if process.poll() is None:
            process.kill()
