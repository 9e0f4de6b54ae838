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
        if os.getppid() != parent:
            os._exit(1)  # no cleanup: the parent that would use the result is gone
        time.sleep(POLL_SECONDS)


def exit_with_parent(parent: int | None = None) -> None:
    """Start the watchdog thread in this worker. ``parent`` is the pid the worker was started by:
    a worker that is still importing when its parent dies is already re-parented when it gets here,
    so its own ``getppid`` would name the wrong parent and it would never exit."""
    parent = os.getppid() if parent is None else parent
    threading.Thread(target=_watch, args=(parent,), name="kbbuild-parent-watch", daemon=True).start()
