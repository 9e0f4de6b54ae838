"""Find the input files, hash them, and tell what they really are.

Formats are sniffed from the first bytes, not trusted from the extension: a ``report.pdf`` that is
really an HTML error page saved by a browser is common in real folders, and should be reported as
such rather than crash a PDF parser.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from kbbuild.config import Settings
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
    container (docx/pptx/xlsx are all zip) or that have no signature (md, txt)."""
    ext = path.suffix.lower()
    if b"%PDF-" in head[:1024]:
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


def _excluded(relpath: str, patterns: list[str]) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relpath, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _walk(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        found.extend(Path(folder) / name for name in sorted(files))
    return found


def _failed(relpath: str, error: str, size: int | None = None, sha: str | None = None, fmt: str | None = None):
    return FileRecord(relpath=relpath, sha256=sha, size=size, format=fmt, status=FileStatus.FAILED, error=error)


def discover(root: Path, settings: Settings, supported: set[str]) -> Discovery:
    """Every file under ``root`` that a parser can read, with its hash; the rest, with reasons."""
    result = Discovery()
    base = root.parent if root.is_file() else root
    max_bytes = settings.ingest.max_file_mb * 1024 * 1024
    for path in _walk(root):
        relpath = path.relative_to(base).as_posix()
        if _excluded(relpath, settings.ingest.exclude) or (path.is_symlink() and not path.exists()):
            continue
        try:
            size = path.stat().st_size
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
        result.sources.append(SourceFile(path=str(path.resolve()), relpath=relpath, sha256=sha, size=size, format=fmt))
    return result
