"""Exceptions that carry a message meant for the user, and the exit codes they map to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of every kbbuild command (documented in README.md)."""

    OK = 0
    PARTIAL_FAILURE = 1  # ingest: some files failed, the others are in the new version
    USAGE = 2  # bad flags or kbbuild.toml (click uses 2 for usage errors too)
    NOTHING_INGESTED = 3  # ingest: no file could be ingested; no version was committed
    KB_ERROR = 4  # the KB cannot be used: missing, locked, built with another model, damaged
    INTERNAL = 5  # a bug in kbbuild or a plugin: never reported as a partial failure


class KbbuildError(Exception):
    """Base class: the message is shown to the user as is, without a traceback."""

    exit_code: ExitCode = ExitCode.KB_ERROR


class ConfigError(KbbuildError):
    exit_code = ExitCode.USAGE


class KBError(KbbuildError):
    exit_code = ExitCode.KB_ERROR


class InputError(KbbuildError):
    """A file cannot be ingested (corrupt, encrypted, empty, unsupported): the batch goes on."""


class PluginError(KbbuildError):
    exit_code = ExitCode.USAGE
