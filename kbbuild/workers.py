"""Worker processes that do not outlive the run that started them.

When an ingest is killed (SIGKILL, OOM killer, a closed terminal), its pool workers are not told:
they finish whatever page range they hold, which for a long PDF can be minutes of CPU and memory
taken from the next run. Each worker therefore watches its parent and exits as soon as it is gone
(it is re-parented, so ``getppid`` changes). A polling thread is used rather than Linux's
``PR_SET_PDEATHSIG`` because that signal fires when the *thread* that spawned the worker ends,
which would kill healthy workers of a pool started from a short-lived thread.
"""

from __future__ import annotations

import os
import threading
import time

POLL_SECONDS = 0.5


def _watch(parent: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(1)  # no cleanup: the parent that would use the result is gone


def exit_with_parent() -> None:
    """Pool initializer: start the watchdog thread in this worker."""
    threading.Thread(target=_watch, args=(os.getppid(),), name="kbbuild-parent-watch", daemon=True).start()
