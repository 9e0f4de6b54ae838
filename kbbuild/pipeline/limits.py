"""Holding one file to ``[limits]``: what a worker process may spend on it, and how that is enforced.

Memory is enforced twice, because neither way is enough alone:

- A watchdog in the driver (``Watchdog``) samples the resident memory of each busy worker and the
  page-range helpers it started, every 0.1 s, and kills the lot when it passes ``file_memory_mb``.
  Resident memory is what the user's machine runs out of, so this is the limit that is reported.
- A poll can be outrun: one allocation of several GB (a page rendered at 28,800 px square) lands
  between two samples. So each worker also caps its own address space (``RLIMIT_AS``) at its size
  after start-up plus 1.5x the budget; such an allocation then fails at once with ``MemoryError``.
  The cap counts address space, not memory used (thread stacks, allocator arenas and mapped model
  files count too), which is why it is a backstop above the budget and not the budget itself; the
  worker also keeps glibc to two heaps (``limit_malloc_arenas``), which would otherwise reserve
  address space for every thread that allocates.

The whole run is held to ``run_memory_mb`` by the same watchdog (``ParsePool._police_run``): the
resident memory of every process the driver started, plus what the driver has grown by since its
models were loaded (``RunMeter``). Two files that each fit their worker's budget can still not fit the machine side by
side; then the one whose worker holds the most is read again alone, which costs time, not the file.

Not cgroups: a memory cgroup needs root or a systemd-delegated slice, which a CI runner, a container
user or a laptop user rarely has; rlimits and a watchdog need nothing.

Time is a deadline the driver checks: ``file_seconds`` plus ``page_seconds`` for every page the
worker reports read, so a 10,000-page PDF that keeps moving is not cut off while a file stuck on
one page (or in one regular expression) is.
"""

from __future__ import annotations

import contextlib
import ctypes
import resource
import signal
import time
from dataclasses import dataclass, field

import psutil

from kbbuild.config import LimitsSettings

MB = 1024 * 1024
SAMPLE_SECONDS = 0.1


M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Called first in a worker: at most ``arenas`` glibc heaps. glibc gives each thread that
    allocates its own 64 MB heap reservation, up to eight per core; ONNX Runtime's thread pools (OCR,
    layout and table models) then reserve hundreds of MB of address space they never touch, and a
    scanned two-page filing went over the address-space cap below (2.3 GB of address space for 1.0 GB
    resident; with two heaps, 1.5 GB). Not glibc: nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


def cap_address_space(limits: LimitsSettings) -> int | None:
    """Called in a worker once its tools are loaded: cap its address space above its current size.
    Returns the cap in bytes (None where the platform has no RLIMIT_AS)."""
    if not hasattr(resource, "RLIMIT_AS"):  # pragma: no cover - macOS has it, Windows has no resource
        return None
    current = psutil.Process().memory_info().vms
    cap = current + int(limits.file_memory_mb * 1.5 * MB)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return cap


OUT_OF_MEMORY = "ran out of memory"


RETIRE_SHARE = 0.6


def retire_after_file(limits: LimitsSettings) -> bool:
    """Called in a worker after each file: give freed heap back to the OS, and say whether the worker
    should make way for a fresh one. The watchdog measures the whole worker, so memory a big file
    left behind (glibc keeps freed pages; fragmentation pins others) would count against the next,
    small file: a worker still above 60% of the budget after trimming retires."""
    trim_heap()
    return psutil.Process().memory_info().rss > limits.file_memory_mb * MB * RETIRE_SHARE


def trim_heap() -> None:
    """Give the heap glibc keeps after a big file back to the OS (not glibc: nothing to trim)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def out_of_memory_reason(limits: LimitsSettings | None) -> str:
    """The reason of a file whose reading raised MemoryError; ``limits`` when its worker was capped."""
    if limits is None:
        return f"{OUT_OF_MEMORY} while reading this file"
    return f"{OUT_OF_MEMORY}: over the worker's limit ([limits] file_memory_mb = {limits.file_memory_mb})"


def _rss(processes: list[psutil.Process]) -> int:
    """Resident bytes of ``processes``; one that ended meanwhile counts nothing."""
    total = 0
    for member in processes:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and its children (a file worker's page-range helpers)."""
    try:
        return _rss([process, *process.children(recursive=True)])
    except psutil.Error:
        return 0


@dataclass
class RunMeter:
    """What the files of one ingest take: every process the driver started (its workers and their
    helpers) and what the driver itself has grown by since its baseline (the meter's creation, then
    ``rebase`` once the models are loaded: queues and batches count, the models do not). Counted from
    a baseline rather than whole so that a program running ingest in-process (a notebook, a test
    run, a service) is not charged for what it held before."""

    baseline: int = field(default_factory=lambda: psutil.Process().memory_info().rss)
    # False while the driver loads its models next to workers already reading files: what it grows
    # by then is the models, so only the workers count until ``rebase``.
    driver_counted: bool = True

    def rebase(self) -> None:
        """Count the driver from now: called once its models are loaded, so that the budget is what the
        files take (workers, the driver's queues and batches), not the models the user chose (the
        offline question model alone is about 1.2 GB)."""
        self.baseline = psutil.Process().memory_info().rss
        self.driver_counted = True

    def used(self) -> int:
        driver = psutil.Process()
        try:
            own = driver.memory_info().rss
            children = driver.children(recursive=True)
        except psutil.Error:
            return 0
        return (max(0, own - self.baseline) if self.driver_counted else 0) + _rss(children)


def kill_tree(process: psutil.Process) -> None:
    """SIGKILL a worker and its helpers: a file over its limit gets no chance to allocate more."""
    try:
        family = [*process.children(recursive=True), process]
    except psutil.Error:
        family = [process]
    for member in family:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue


@dataclass
class FileWatch:
    """One file in one worker: when it started, pages read, the most memory seen."""

    pid: int
    started: float = field(default_factory=time.monotonic)
    pages: int = 0
    peak_rss: int = 0
    _process: psutil.Process | None = None

    def __post_init__(self) -> None:
        try:
            self._process = psutil.Process(self.pid)
        except psutil.Error:
            self._process = None

    @property
    def peak_mb(self) -> float:
        return round(self.peak_rss / MB, 1)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def sample(self) -> int:
        rss = tree_rss(self._process) if self._process is not None else 0
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def breach(self, limits: LimitsSettings) -> str | None:
        """Why this file must be stopped now, or None."""
        allowed = limits.file_seconds + limits.page_seconds * self.pages
        elapsed = self.elapsed()
        if elapsed > allowed:
            budget = f"[limits] file_seconds = {limits.file_seconds:g}"
            if limits.page_seconds and self.pages:
                budget += f" + page_seconds = {limits.page_seconds:g} x {self.pages} pages read"
            return f"stopped after {elapsed:.0f} s: over the time limit ({budget})"
        rss = self.sample()
        if rss > limits.file_memory_mb * MB:
            return (
                f"stopped at {rss / MB:.0f} MB of memory: over the limit ([limits] file_memory_mb = "
                f"{limits.file_memory_mb})"
            )
        return None

    def kill(self) -> None:
        if self._process is not None:
            kill_tree(self._process)
