"""Turning a storage failure (disk full, read-only folder, I/O error) into a message, not a traceback.

LanceDB reports these as ``OSError`` or as ``RuntimeError("lance error: LanceError(IO): ...")`` from
its Rust core. Both mean the same to a user: the write did not happen, and since a KB version only
exists once its manifest is written, the previous version is untouched. Other RuntimeErrors are
bugs and must stay loud, so only I/O failures are translated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from kbbuild.errors import KBError

_LANCE_IO = re.compile(r"LanceError\(IO\):\s*(?P<what>[^,]+?)(?:\s*\(os error \d+\))?(?:,|$)")


def storage_failure(error: BaseException) -> str | None:
    """A short reason when ``error`` is a storage failure, None for anything else."""
    if isinstance(error, OSError):
        return error.strerror or str(error).split(",")[0]
    if isinstance(error, RuntimeError):
        match = _LANCE_IO.search(str(error))
        if match:
            return match.group("what").strip()
    return None


@contextmanager
def storage_errors(what: str, current: int | None) -> Iterator[None]:
    """Report a storage failure inside the block as a KBError that says nothing was committed."""
    try:
        yield
    except (OSError, RuntimeError) as error:
        reason = storage_failure(error)
        if reason is None:
            raise
        kept = f"KB version {current} is still the current one" if current else "the KB has no version yet"
        raise KBError(
            f"could not {what}: {reason}. Nothing was committed; {kept}. Free some space (or fix the storage) "
            "and run again: the next run clears what this one wrote."
        ) from error
