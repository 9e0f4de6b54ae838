"""Office files are zip archives: check what they would decompress to before any library opens them.

python-docx, python-pptx and openpyxl read whole parts into memory; a 40 KB docx whose
``document.xml`` inflates to several GB (a zip bomb) took 6.8 GB before it was rejected. The zip
directory states every member's sizes, so the shape of a bomb is visible for the cost of reading
that directory. Sizes a member lies about are caught later by the worker's memory limit.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from kbbuild.config import LimitsSettings
from kbbuild.errors import InputError

ZIPPED_FORMATS = frozenset({"docx", "pptx", "xlsx"})
_RATIO_FLOOR = 10 * 1024 * 1024  # small members compress extremely well (empty XML parts); only big ones count


def check_archive(path: Path, fmt: str, limits: LimitsSettings) -> None:
    """Raise ``InputError`` for an archive over ``[limits] archive_mb`` or with a member shaped like a bomb."""
    if fmt not in ZIPPED_FORMATS:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InputError(f"cannot read this {fmt} file (corrupt or not really {fmt}): {error}") from error
    total = sum(member.file_size for member in members)
    if total > limits.archive_mb * 1024 * 1024:
        raise InputError(
            f"this {fmt} file decompresses to {total / 2**20:,.0f} MB, over the limit ([limits] archive_mb = "
            f"{limits.archive_mb:g})"
        )
    for member in members:
        if member.file_size <= _RATIO_FLOOR:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.archive_ratio:
            raise InputError(
                f"'{member.filename}' in this {fmt} file inflates {ratio:,.0f} times (to "
                f"{member.file_size / 2**20:,.0f} MB): a zip bomb, refused ([limits] archive_ratio = "
                f"{limits.archive_ratio:g})"
            )
