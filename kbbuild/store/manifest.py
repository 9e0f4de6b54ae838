"""Manifests: one JSON file per KB version, written atomically, and the only proof a version exists.

The LanceDB tables are written first and may hold rows of an ingest that never finished; a version
becomes visible only when its manifest (which names the exact table versions to read) is renamed
into place. A crash before that leaves the previous manifest, and so the previous version, current.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kbbuild.faults import crash_point
from kbbuild.records import Manifest

VERSIONS_DIR = "versions"


def manifest_path(kb: Path, version: int) -> Path:
    return kb / VERSIONS_DIR / f"{version:08d}.json"


def atomic_write_text(target: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder: readers see the old file or the
    new one, never half of it, even across a crash."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        crash_point("temp_file_written")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_manifest(kb: Path, manifest: Manifest) -> Path:
    target = manifest_path(kb, manifest.kb_version)
    if target.exists():
        raise FileExistsError(f"KB version {manifest.kb_version} already exists: {target}")
    atomic_write_text(target, manifest.model_dump_json(indent=2))
    return target


def list_versions(kb: Path) -> list[int]:
    folder = kb / VERSIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())


def read_manifest(kb: Path, version: int) -> Manifest:
    return Manifest.model_validate_json(manifest_path(kb, version).read_text(encoding="utf-8"))


def remove_manifest(kb: Path, version: int) -> None:
    """Delete a version's commit record (``kbbuild gc``): from here on the version does not exist."""
    manifest_path(kb, version).unlink(missing_ok=True)
