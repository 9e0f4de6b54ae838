"""Passwords for encrypted PDFs, kept out of everything kbbuild writes.

Two sources, most specific first: a JSON file mapping path patterns (relative to the input folder,
``fnmatch`` syntax) to passwords (``[ingest] pdf_password_file``, ``--pdf-password-file``), and one
password for every other encrypted PDF in the environment variable ``KBBUILD_PDF_PASSWORD``
(``--pdf-password`` sets it for the run). Worker processes inherit the environment and read the
file themselves, so no password travels in the settings, which end up in the manifest; a command
line is visible to every user of the machine (``ps``), hence the variable.
"""

from __future__ import annotations

import fnmatch
import json
import os
from functools import lru_cache
from pathlib import Path

from kbbuild.errors import ConfigError

PASSWORD_ENV = "KBBUILD_PDF_PASSWORD"


@lru_cache(maxsize=4)
def load_password_file(path: str) -> tuple[tuple[str, str], ...]:
    """(pattern, password) pairs in file order; a malformed file is a configuration error."""
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the PDF password file {path}: {error}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ConfigError(f'the PDF password file {path} must be a JSON object: {{"pattern": "password", ...}}')
    return tuple(mapping.items())


def password_for(relpath: str, password_file: str | None) -> str | None:
    """The password to open ``relpath`` with, or None."""
    if password_file:
        for pattern, password in load_password_file(password_file):
            if fnmatch.fnmatchcase(relpath, pattern):
                return password
    return os.environ.get(PASSWORD_ENV) or None
