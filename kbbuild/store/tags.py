"""Named KB versions ("release-2026-11"): a small JSON map in the KB folder, written atomically,
mirrored as LanceDB tags on every table version the KB version pins, so that Lance tools can check
the same data out by name and compaction never removes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kbbuild.errors import KBError
from kbbuild.store.manifest import atomic_write_text

TAGS_FILE = "tags.json"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
RESERVED = re.compile(r"^kb-v\d+$")  # kbbuild's own per-version tags


def read_tags(kb: Path) -> dict[str, int]:
    path = kb / TAGS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def valid_name(name: str) -> bool:
    """Tag and collection names: safe as file names and inside LanceDB filter strings."""
    return bool(_NAME.match(name))


def version_tag(kb_version: int) -> str:
    """The LanceDB tag kbbuild puts on every table version a KB version pins."""
    return f"kb-v{kb_version}"


def check_name(name: str) -> None:
    if not valid_name(name) or RESERVED.match(name):
        raise KBError(
            f"invalid tag name '{name}': start with a letter; letters, digits, '.', '_', '-'; at most 64 "
            "characters; 'kb-vN' is reserved"
        )


def write_tags(kb: Path, tags: dict[str, int]) -> None:
    atomic_write_text(kb / TAGS_FILE, json.dumps(dict(sorted(tags.items())), indent=2))


def tag_table(table, name: str, table_version: int) -> None:
    """Point a LanceDB table tag at a table version, creating or moving it (a run that died between
    its manifest and its tags leaves a tag to move)."""
    if name in table.tags.list():
        table.tags.update(name, table_version)
    else:
        table.tags.create(name, table_version)


def pin_table_versions(db, kb_version: int, table_versions: dict[str, int]) -> None:
    """Tag each table version a committed KB version pins ``kb-vN``, so Lance tools can check a KB
    version out by name and cleanup (``kbbuild gc``) never removes its data."""
    for name, table_version in table_versions.items():
        tag_table(db.open_table(name), version_tag(kb_version), table_version)
