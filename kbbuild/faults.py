"""Named crash points, so that tests can kill a real kbbuild process at an exact step of a commit.

Crash safety is a claim about every step between "rows written" and "version committed"; a test
that only kills at a random moment proves it for whichever step happened to be running. Setting
``KBBUILD_CRASH_AT=<step>`` makes the process SIGKILL itself when it reaches that step, which is as
abrupt as a power cut from the KB's point of view (no ``finally`` blocks, no flushes).
``KBBUILD_CRASH_AT=<step>:raise`` raises an unexpected exception there instead, to test how errors
nobody planned for are reported. Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "KBBUILD_CRASH_AT"


def crash_point(step: str) -> None:
    """Die here, now, without cleaning up, when the environment asks for a crash at ``step``."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted == step:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"{step}:raise":
        raise RuntimeError(f"fault injected at {step} ({CRASH_ENV})")
