"""Find the input files, hash them, and tell what they really are.

Formats are sniffed from the first bytes, not trusted from the extension: a ``report.pdf`` that is
really an HTML error page saved by a browser is common in real folders, and should be reported as
such rather than crash a PDF parser.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kbbuild.config import Settings
from kbbuild.pipeline.walk import walk
from kbbuild.records import FileRecord, FileStatus, SourceFile

_ZIP_FORMATS = {".docx": "docx", ".pptx": "pptx", ".xlsx": "xlsx", ".odt": "odt", ".epub": "epub"}
_TEXT_FORMATS = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".text": "txt",
    ".eml": "eml",
    ".htm": "html",
    ".html": "html",
    ".csv": "csv",
    ".json": "json",
    ".srt": "srt",
}


def sniff_format(path: Path, head: bytes) -> str:
    """The format the content says, using the extension only to tell apart formats that share a
    container (docx/pptx/xlsx are all zip) or that have no signature (md, txt).

    A PDF starts with ``%PDF-``. Readers accept junk before it within the first 1,024 bytes, so a
    file *named* .pdf gets that allowance; any other file must start with it, or a Markdown note
    that quotes a PDF header would be taken for a broken PDF.
    """
    ext = path.suffix.lower()
    if head.startswith(b"%PDF-") or (ext == ".pdf" and b"%PDF-" in head[:1024]):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _ZIP_FORMATS.get(ext, "zip")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return {".doc": "doc", ".xls": "xls", ".ppt": "ppt", ".msg": "msg"}.get(ext, "ole")
    for magic, fmt in ((b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"), (b"II*\x00", "tiff")):
        if head.startswith(magic):
            return fmt
    text_head = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text_head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if ext in _TEXT_FORMATS:
        return _TEXT_FORMATS[ext]
    return ext.lstrip(".") or "unknown"


_DESCRIPTIONS = {"html": "HTML", "zip": "a zip archive", "png": "a PNG image", "jpeg": "a JPEG image"}


def mislabel_reason(path: Path, fmt: str) -> str | None:
    """A reason to refuse a file whose extension promises a format its content does not have."""
    ext = path.suffix.lower().lstrip(".")
    if ext == "pdf" and fmt != "pdf":
        looks = _DESCRIPTIONS.get(fmt, "unknown content")
        return f"named .pdf but it is not a PDF (no %PDF header; looks like {looks})"
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Discovery:
    sources: list[SourceFile] = field(default_factory=list)
    failures: list[FileRecord] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    skipped: list[FileRecord] = field(default_factory=list)  # deliberately not read: refused links, devices
    unreadable_folders: list[str] = field(default_factory=list)  # relpaths of folders that could not be listed


def _excluded(relpath: str, patterns: list[str]) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relpath, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _failed(relpath: str, error: str, size: int | None = None, sha: str | None = None, fmt: str | None = None):
    return FileRecord(relpath=relpath, sha256=sha, size=size, format=fmt, status=FileStatus.FAILED, error=error)


def _skipped(relpath: str, reason: str) -> FileRecord:
    return FileRecord(relpath=relpath, sha256=None, size=None, format=None, status=FileStatus.SKIPPED, error=reason)


def discover(root: Path, settings: Settings, supported: set[str]) -> Discovery:
    """Every file under ``root`` that a parser can read, with its hash; the rest, with reasons."""
    result = Discovery()
    max_bytes = settings.ingest.max_file_mb * 1024 * 1024
    seen: set[str] = set()
    for entry in walk(root, follow_links=settings.ingest.follow_links):
        if _excluded(entry.relpath, settings.ingest.exclude):
            continue
        if entry.relpath in seen:  # only names with undecodable bytes can collide (see walk.storable_name)
            why = "its name has bytes that are not UTF-8, and written with %XX it equals another file's name"
            result.failures.append(_failed(f"{entry.relpath} (name collision)", why))
            continue
        seen.add(entry.relpath)
        if entry.refused:
            result.skipped.append(_skipped(entry.relpath, entry.problem or "not read"))
            continue
        if entry.problem:
            if entry.folder:
                result.unreadable_folders.append(entry.relpath)
            relpath = entry.relpath + ("/" if entry.folder else "")
            result.failures.append(_failed(relpath, entry.problem, fmt=entry.kind))
            continue
        path, relpath = entry.path, entry.relpath
        try:
            stat = path.stat()
            size = stat.st_size
            if size == 0:
                result.failures.append(_failed(relpath, "empty file (0 bytes)", size=0))
                continue
            with path.open("rb") as handle:
                head = handle.read(2048)
            fmt = sniff_format(path, head)
            # A ".pdf" that is really HTML is a login or error page saved by a browser, not the
            # document the user meant: refused with the reason even though HTML can be parsed.
            reason = mislabel_reason(path, fmt)
            if reason:
                result.failures.append(_failed(relpath, reason, size=size, fmt=fmt))
                continue
            if fmt not in supported:
                result.unsupported.append(relpath)
                continue
            if size > max_bytes:
                limit = settings.ingest.max_file_mb
                result.failures.append(
                    _failed(
                        relpath,
                        f"file is {size / 2**20:.0f} MB, over the {limit:g} MB limit (raise ingest.max_file_mb)",
                        size=size,
                        fmt=fmt,
                    )
                )
                continue
            sha = sha256_of(path)
        except OSError as error:
            result.failures.append(_failed(relpath, f"cannot read: {error.strerror or error}"))
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
        result.sources.append(
            SourceFile(path=str(path.resolve()), relpath=relpath, sha256=sha, size=size, format=fmt, modified=modified)
        )
    return result
