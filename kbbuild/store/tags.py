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


def check_name(name: str) -> None:
    if not _NAME.match(name) or RESERVED.match(name):
        raise KBError(
            f"invalid tag name '{name}': start with a letter; letters, digits, '.', '_', '-'; at most 64 "
            "characters; 'kb-vN' is reserved"
        )


def write_tags(kb: Path, tags: dict[str, int]) -> None:
    atomic_write_text(kb / TAGS_FILE, json.dumps(dict(sorted(tags.items())), indent=2))
