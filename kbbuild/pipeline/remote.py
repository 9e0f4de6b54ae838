"""DOCS on object storage (``s3://bucket/prefix``, ``gs://…``): mirrored into a local folder that the
usual walk, discovery and parse read.

Why a mirror and not streaming reads: every parser kbbuild runs (pdfium, pdfminer, unstructured,
OCR) wants a local file, a file is read several times (sniffing, hashing, parsing, a retry in a
fresh worker), and the unchanged-file check hashes content. A mirror keyed by the object's ETag and
size downloads each object once: a nightly run over an unchanged bucket lists it and downloads
nothing, and the content hash then skips every file as it does locally. Objects gone from the bucket
are removed from the mirror, so their rows leave the KB exactly as a deleted local file's do.

Keys are relative paths under the prefix; a key that would leave the mirror folder ("../x", an
absolute key) is refused and reported, never written. An object over ``[ingest] max_file_mb`` is not
downloaded: a sparse file of its size stands in for it, which discovery reports as too large, as it
would the real file (its KB rows are kept, not deleted).

Credentials and endpoints come from the storage library's usual sources (for S3: the AWS
environment variables, ``AWS_ENDPOINT_URL`` for MinIO or another S3-compatible store, ~/.aws).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kbbuild.errors import ConfigError, InputError

REMOTE_SCHEMES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}
EXTRAS = {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}
MIRRORS = Path(os.environ.get("KBBUILD_CACHE", Path.home() / ".cache" / "kbbuild")) / "mirrors"
INDEX = "index.json"


_URI = re.compile(r"^([A-Za-z0-9]+):/+(.*)$")


def remote_uri(path: str | os.PathLike) -> str | None:
    """``scheme://rest`` when the path names object storage, else None. A URI that went through
    ``pathlib.Path`` on its way here has lost a slash ("s3:/bucket/docs"): it is still one."""
    match = _URI.match(os.fspath(path))
    if match is None or match.group(1).lower() not in REMOTE_SCHEMES:
        return None
    return f"{match.group(1).lower()}://{match.group(2)}"


def is_remote(path: str | os.PathLike) -> bool:
    return remote_uri(path) is not None


@dataclass
class Mirror:
    uri: str
    folder: Path
    listed: int = 0
    fetched: int = 0
    kept: int = 0
    removed: int = 0
    too_large: int = 0
    refused: list[str] = field(default_factory=list)

    def note(self) -> str:
        parts = [f"{self.listed} objects listed", f"{self.fetched} downloaded", f"{self.kept} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} gone from the store (removed here)")
        if self.too_large:
            parts.append(f"{self.too_large} over [ingest] max_file_mb, not downloaded")
        if self.refused:
            parts.append(f"{len(self.refused)} refused, key outside the prefix: {', '.join(self.refused[:3])}")
        return f"{self.uri}: {', '.join(parts)} (mirror: {self.folder})"


def _filesystem(uri: str):
    import fsspec

    scheme = uri.split("://", 1)[0].lower()
    try:
        return fsspec.filesystem(scheme)
    except (ImportError, ValueError) as error:
        package = REMOTE_SCHEMES[scheme]
        raise ConfigError(
            f"reading {scheme}:// needs {package}: pip install 'kbbuild[{EXTRAS[package]}]' ({error})"
        ) from error


def _safe_relpath(key: str, prefix: str) -> str | None:
    """The key's path under the prefix, or None when it would leave the mirror folder ("../x") or
    collide with another key once written as a path ("a//b" and "a/b", "a/./b")."""
    if not key.startswith(prefix + "/"):
        return None
    relative = key[len(prefix) + 1 :]
    if not relative or relative.startswith("/") or "//" in relative or "\\" in relative:
        return None
    if any(part in ("..", ".") for part in relative.split("/")):
        return None
    return relative


def _stamp(info: dict) -> str:
    tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("crc32c") or ""
    modified = info.get("LastModified") or info.get("updated") or info.get("mtime") or ""
    return f"{str(tag).strip(chr(34))}:{info.get('size')}:{modified}"


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two runs over one prefix must not write one mirror at once
        yield


def mirror(uri: str, max_file_mb: float, root: Path | None = None) -> Mirror:
    """Bring the local mirror of ``uri`` (a prefix, or one object) up to date with the store."""
    fs = _filesystem(uri)
    location = uri.split("://", 1)[1].rstrip("/")
    base = (root or MIRRORS) / hashlib.sha256(uri.rstrip("/").encode()).hexdigest()[:20]
    fs.invalidate_cache()  # a listing cached earlier in this process would hide new and deleted objects
    try:
        if fs.isfile(location):
            listing = {location: fs.info(location)}
            prefix = location.rsplit("/", 1)[0]
        else:
            listing = fs.find(location, detail=True)
            prefix = location
    except (FileNotFoundError, PermissionError, OSError) as error:
        raise InputError(f"cannot list {uri}: {error}") from error
    if not listing:
        raise InputError(f"input path does not exist or holds no objects: {uri}")
    result = Mirror(uri, base / "files", listed=0)
    with _locked(base):
        index_path = base / INDEX
        index: dict[str, dict] = json.loads(index_path.read_text()) if index_path.is_file() else {}
        seen: dict[str, dict] = {}
        for key, info in sorted(listing.items()):
            if info.get("type") == "directory" or key.endswith("/"):
                continue
            relpath = _safe_relpath(key, prefix)
            if relpath is None:
                result.refused.append(key)
                continue
            result.listed += 1
            stamp = _stamp(info)
            size = int(info.get("size") or 0)
            placeholder = size > max_file_mb * 1024 * 1024
            target = result.folder / relpath
            entry = {"stamp": stamp, "placeholder": placeholder}
            seen[relpath] = entry
            if index.get(relpath) == entry and target.is_file() and target.stat().st_size == size:
                result.kept += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part-{os.getpid()}")
            try:
                if placeholder:
                    with open(partial, "wb") as handle:
                        handle.truncate(size)  # sparse: discovery sees the size without the bytes
                    result.too_large += 1
                else:
                    fs.get_file(key, str(partial))
                    result.fetched += 1
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        for relpath in set(index) - set(seen):
            gone = result.folder / relpath
            if gone.is_file():
                gone.unlink()
                result.removed += 1
        _remove_empty_folders(result.folder)
        temporary = index_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(seen, sort_keys=True))
        temporary.replace(index_path)
    result.folder.mkdir(parents=True, exist_ok=True)
    return result


def _remove_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
