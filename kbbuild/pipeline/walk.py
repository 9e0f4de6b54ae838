"""Walking the input folder without losing, inventing or leaking anything.

Three things a plain ``os.walk`` gets wrong for a KB, each of which cost users data or exposed it:

- A folder it cannot list (permissions, an I/O error) vanishes silently, and the next ingest then
  deletes the KB rows of every file that was in it. Here it comes back as an entry with a problem,
  so the caller can keep those rows and say why.
- Symbolic links: a link that resolves outside the input folder (``notes.txt -> /etc/passwd``) is
  refused unless the user opts in (``--follow-links``); a dangling link or a loop is reported, never
  dropped. A link to a folder inside the input is not followed: that folder is walked where it is.
- A file name that is not valid UTF-8 (an old zip, a Windows share) cannot be stored in JSON or
  Arrow. Its undecodable bytes are written as ``%XX`` in the relpath, which is lossless for every
  name that does not already contain such a sequence (a collision is reported by the caller).

Entries come in sorted order, so relpaths and thus chunk ids do not depend on the file system.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One thing found under the input root: a file to read, or something to report."""

    path: Path
    relpath: str
    folder: bool = False
    problem: str | None = None  # why it cannot be read; the KB keeps its previous rows
    refused: bool = False  # deliberately not read (a link out of the input, a device); its rows go
    kind: str | None = None


def storable_name(name: str) -> str:
    """A file name as it can be stored in JSON and Arrow: undecodable bytes (which Python carries
    as lone surrogates) become ``%XX``; valid names are returned unchanged."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    return "".join(f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in name)


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def _resolve_link(path: Path) -> tuple[Path | None, str | None]:
    """The final target of a link, or the reason there is none (dangling, loop, unreadable)."""
    try:
        return path.resolve(strict=True), None
    except FileNotFoundError:
        return None, f"dangling symbolic link (to {storable_name(os.readlink(path))}, which does not exist)"
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return None, "symbolic link loop"
    except OSError as error:
        if "loop" in str(error).lower() or error.errno == 40:
            return None, "symbolic link loop"
        return None, f"cannot follow symbolic link: {error.strerror or error}"


def walk(root: Path, follow_links: bool = False) -> Iterator[Entry]:
    """Every file under ``root`` (or ``root`` itself when it is a file), and every problem met."""
    if not root.is_dir():
        yield Entry(root, storable_name(root.name))
        return
    real_root = root.resolve()
    walked = {real_root}
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: os.fsencode(e.name))
        except OSError as error:
            why = f"cannot list folder: {error.strerror or error}"
            yield Entry(folder, prefix.rstrip("/") or ".", folder=True, problem=why, kind="folder")
            continue
        subfolders: list[tuple[Path, str]] = []
        for item in entries:
            relpath = prefix + storable_name(item.name)
            path = Path(item.path)
            try:
                if item.is_symlink():
                    found = _link(path, relpath, real_root, walked, follow_links)
                    if isinstance(found, Entry):
                        yield found
                    elif found is not None:
                        subfolders.append((path, relpath + "/"))
                    continue
                mode = item.stat(follow_symlinks=False).st_mode
            except OSError as error:
                yield Entry(path, relpath, problem=f"cannot read: {error.strerror or error}")
                continue
            if stat.S_ISDIR(mode):
                walked.add(path.resolve())
                subfolders.append((path, relpath + "/"))
            elif stat.S_ISREG(mode):
                yield Entry(path, relpath)
            else:  # a FIFO would block the reader forever; devices and sockets are not documents
                yield Entry(path, relpath, problem="not a regular file (a pipe, socket or device)", refused=True)
        stack.extend(reversed(subfolders))


def _link(path: Path, relpath: str, real_root: Path, walked: set[Path], follow: bool) -> Entry | Path | None:
    """What to do with a symbolic link: an Entry to yield, a folder Path to descend into, or None."""
    target, problem = _resolve_link(path)
    if target is None:
        return Entry(path, relpath, problem=problem)
    if not _inside(target, real_root) and not follow:
        what = "folder" if target.is_dir() else "file"
        return Entry(
            path,
            relpath,
            refused=True,
            problem=f"symbolic link to a {what} outside the input folder; not followed (use --follow-links)",
        )
    if not target.is_dir():
        return Entry(path, relpath)
    if _inside(target, real_root):
        why = "link to a folder inside the input, whose files are read where they are"
        return Entry(path, relpath, refused=True, problem=why)
    if target in walked:
        return Entry(path, relpath, problem="symbolic link loop (or a second link to a folder already read)")
    walked.add(target)
    return target
