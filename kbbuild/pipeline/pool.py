"""The parse pool: worker processes that prepare files (``pipeline.prepare``) while the driver
embeds and writes the files before them.

Why its own pool rather than ``concurrent.futures.ProcessPoolExecutor``: when a worker of an
executor dies (SIGKILL, the OOM killer, a crash in a C library on a hostile PDF), every pending
future fails with ``BrokenProcessPool`` and nobody knows which file did it. Here each worker holds
one file at a time over its own pipe, so a death fails exactly that file ("the worker reading it
died"), a new worker takes its place, and the batch goes on.

Results come back in submission order (the driver's duplicate index and row order must not depend
on which worker was faster), at most ``window`` files ahead of the consumer, so memory is bounded
by the window, not by the corpus. A dispatcher thread keeps the workers fed while the driver is busy
embedding; it spends its time blocked in ``connection.wait``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from kbbuild.config import Settings
from kbbuild.pipeline.limits import MB, SAMPLE_SECONDS, FileWatch, RunMeter
from kbbuild.records import PreparedFile, SourceFile


def _spool(prepared: PreparedFile, folder: str, index: int, number: int) -> str:
    path = os.path.join(folder, f"{index}-{number}.pickle")
    with open(path, "wb") as out:
        pickle.dump(prepared, out, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _unspool(path: str) -> PreparedFile:
    with open(path, "rb") as spooled:
        prepared = pickle.load(spooled)
    os.unlink(path)
    return prepared


def _serve(conn: Connection, settings_json: str, plugins: bytes, debug: bool, parent: int, spool: str) -> None:
    """A worker's main loop: load the tools once, cap its own address space, then prepare one file per
    message, reporting each page read (the driver's deadline and progress bar move with it). The parts
    of a large file are written to the ``spool`` folder and announced, so that neither process holds
    more than a window of it and the worker never waits for the driver."""
    from kbbuild.pipeline.limits import (
        OUT_OF_MEMORY,
        cap_address_space,
        limit_malloc_arenas,
        out_of_memory_reason,
        retire_after_file,
    )
    from kbbuild.pipeline.prepare import PrepareTools, prepare_parts
    from kbbuild.workers import exit_with_parent

    limit_malloc_arenas()
    exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        settings = Settings.model_validate_json(settings_json)
        tools = PrepareTools.load(settings, pickle.loads(plugins), debug=debug, limits=settings.limits)
        cap_address_space(settings.limits)
    except BaseException as error:  # a configuration error would fail every file: the driver raises it
        conn.send(("raise", None, error))
        return
    conn.send(("ready", None, None))
    sending = threading.Lock()  # page reports may come from a parser's thread

    def send(message: tuple) -> None:
        with sending:
            conn.send(message)

    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, source = task
        try:
            for number, prepared in enumerate(
                prepare_parts(source, tools, on_page=lambda page, index=index: send(("page", index, page)))
            ):
                if prepared.part:
                    send(("part", index, _spool(prepared, spool, index, number)))
        except MemoryError:
            prepared = PreparedFile(source=source, parser="", error=out_of_memory_reason(settings.limits))
        except BaseException as error:
            send(("raise", index, error))
            continue
        # A heap that hit its cap is not worth reusing, nor one a big file left bloated. The driver is
        # told before the result, so that it never hands this worker another file.
        out_of_memory = prepared.error is not None and prepared.error.startswith(OUT_OF_MEMORY)
        retiring = out_of_memory or retire_after_file(settings.limits)
        if retiring:
            send(("retiring", index, None))
        send(("done", index, prepared))
        if retiring:
            return


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    task: tuple[int, SourceFile] | None = None
    watch: FileWatch | None = None
    retiring: bool = False  # exits after its current file; gets no other
    alone: bool = False  # its file is read again alone, after the run went over run_memory_mb
    parts_sent: int = 0  # parts of its current file already handed on: the file cannot be read again

    def clear(self) -> None:
        self.task, self.watch, self.alone, self.parts_sent = None, None, False, 0


STILLBORN_LIMIT = 3  # workers that die before they are ready, before the run gives up


def _death(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the worker process reading this file died: killed by {name}{hint}"
    return f"the worker process reading this file died (exit code {code})"


@dataclass
class ParsePool:
    """``workers`` processes running ``prepare`` under ``[limits]``; use ``map`` once, then ``close``.

    ``page_workers`` is the page-range pool each worker may start inside one long PDF: 1 when several
    files keep the workers busy (more would oversubscribe the cores), ``[parse] workers`` when the
    pool reads a single file.
    """

    workers: int
    settings: Settings
    extra_plugins: tuple[object, ...] = ()
    debug: bool = False
    window: int = 0
    on_done: Callable[[PreparedFile], None] | None = None
    on_page: Callable[[], None] | None = None
    page_workers: int = 1
    spool_folder: str | None = None  # where large files' parts wait for the driver; default: a temp folder
    _pool: list[_Worker] = field(default_factory=list)
    _results: dict[int, PreparedFile | BaseException] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _consumed: int = 0
    _stop: bool = False
    _fatal: BaseException | None = None
    _size: int = 0
    _stillborn: int = 0
    _parts: dict[int, deque[str]] = field(default_factory=dict)  # spooled parts not yet consumed
    _put_back: list[tuple[int, SourceFile]] = field(default_factory=list)  # to be read alone
    meter: RunMeter | None = None  # the run's memory, counted from when the workers were started
    _dispatcher: threading.Thread | None = None
    _sources: list[SourceFile] | None = None

    def __post_init__(self) -> None:
        self.window = self.window or self.workers * 4
        self._context = multiprocessing.get_context("spawn")
        worker_settings = self.settings.model_copy(deep=True)
        worker_settings.parse.workers = self.page_workers
        self._settings_json = worker_settings.model_dump_json()
        self._plugins = pickle.dumps(self.extra_plugins)
        self.limits = self.settings.limits
        self._spool = tempfile.mkdtemp(prefix="kbbuild-parts-", dir=self.spool_folder)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        # Not a daemon: a worker reading a single long PDF starts page-range helpers of its own, which
        # daemons may not. It still cannot outlive the driver: ``close`` stops it, and it exits by
        # itself when the driver dies (``workers.exit_with_parent``) or its pipe closes.
        process = self._context.Process(
            target=_serve,
            args=(child, self._settings_json, self._plugins, self.debug, os.getpid(), self._spool),
            daemon=False,
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    @property
    def size(self) -> int:
        return len(self._pool) or self._size

    def start(self, files: int) -> None:
        """Start the workers now: they import and load their tools while the driver loads its model."""
        if not self._pool:
            self.meter = self.meter or RunMeter()
            self._pool = [self._start() for _ in range(min(self.workers, max(files, 1)))]
            self._size = len(self._pool)

    def begin(self, sources: list[SourceFile]) -> None:
        """Start the workers and hand them files at once, before anyone asks for results: the driver
        loads its model meanwhile (seconds of one core that would otherwise leave the workers idle).
        Results wait within the window until ``map`` takes them. Until the driver calls
        ``meter.rebase()``, the run's memory counts the workers only: what the driver grows by
        then is its models."""
        if self._dispatcher is not None:
            return
        if self.meter is None:
            self.meter = RunMeter(driver_counted=False)
        self.start(len(sources))
        self._sources = sources
        self._dispatcher = threading.Thread(target=self._dispatch, args=(sources,), name="kbbuild-parse-dispatch")
        self._dispatcher.start()

    @property
    def results_waiting(self) -> int:
        """Files read and not yet taken by ``map``."""
        with self._cond:
            return len(self._results)

    def map(self, sources: list[SourceFile]) -> Iterator[PreparedFile]:
        """Prepared files in the order of ``sources``; a file sent in parts yields its parts first,
        as they come, then the PreparedFile that completes it."""
        if self._dispatcher is not None and self._sources is not sources:
            raise ValueError("ParsePool.map: the pool was begun on other files")
        self.begin(sources)
        try:
            for index in range(len(sources)):
                while True:
                    part, result = self._next(index)
                    if part is None:
                        break
                    yield _unspool(part)
                if isinstance(result, BaseException):
                    raise result
                yield result
        finally:
            self._halt()

    def _halt(self) -> None:
        """Stop handing out files and wait for the dispatcher (the workers stop in ``close``)."""
        if self._dispatcher is None:
            return
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._dispatcher.join()

    def _next(self, index: int) -> tuple[str | None, PreparedFile | BaseException | None]:
        """The next spooled part of file ``index``, or (when none is left) its completing result."""
        with self._cond:
            while not self._parts.get(index) and index not in self._results and self._fatal is None:
                self._cond.wait()
            if self._fatal is not None:
                raise self._fatal
            if self._parts.get(index):
                return self._parts[index].popleft(), None
            self._parts.pop(index, None)
            self._consumed = index + 1
            self._cond.notify_all()
            return None, self._results.pop(index)

    def _finish(self, index: int, result: PreparedFile | BaseException) -> None:
        if isinstance(result, PreparedFile) and self.on_done is not None:
            self.on_done(result)
        with self._cond:
            self._results[index] = result
            self._cond.notify_all()

    def _replace(self, slot: int, reason: str | None, put_back: bool = False) -> bool:
        """Fail the file a lost worker held (``reason``, or how the process died), or with ``put_back``
        queue it to be read again alone, and start a new worker in its place. True when a file was
        failed."""
        worker = self._pool[slot]
        worker.process.join(timeout=5)
        if not worker.ready:  # died before it could load its tools: a new one would die the same way
            self._stillborn += 1
            if self._stillborn >= STILLBORN_LIMIT:
                how = _death(worker.process).removeprefix("the worker process reading this file died")
                died = f"{STILLBORN_LIMIT} in a row died before they were ready{how}"
                raise RuntimeError(f"parse workers cannot start: {died}")
        failed = False
        if worker.task is not None and put_back:
            self._put_back.append(worker.task)
            self._put_back.sort(key=lambda task: task[0])
        elif worker.task is not None:
            index, source = worker.task
            watch = worker.watch
            usage = {"peak_memory_mb": watch.peak_mb, "wall_seconds": round(watch.elapsed(), 2)} if watch else {}
            self._finish(index, PreparedFile(source=source, parser="", error=reason or _death(worker.process), **usage))
            failed = True
        worker.conn.close()
        self._pool[slot] = self._start()
        return failed

    def _police(self) -> int:
        """Stop every file that is over its time or memory limit; returns how many were stopped."""
        stopped = 0
        for slot, worker in enumerate(self._pool):
            if worker.watch is None:
                continue
            reason = worker.watch.breach(self.limits)
            if reason is not None:
                worker.watch.kill()
                stopped += self._replace(slot, reason)
        return stopped + self._police_run()

    def _police_run(self) -> int:
        """Hold the whole run to ``run_memory_mb``. Files read side by side can together need more
        than the run has: the one whose worker holds the most (it is what pushed the run over; stopping
        a small file would free little, and a fresh worker costs its start-up size) is stopped and read
        again once it has the run to itself. A file that is alone, or that has already handed on parts
        (they are written; it cannot start over), fails with the limit. Returns how many files failed."""
        budget = self.limits.run_memory_mb
        busy = [(slot, worker) for slot, worker in enumerate(self._pool) if worker.watch is not None]
        if not budget or not busy or self.meter is None:
            return 0
        total = self.meter.used()
        if total <= budget * MB:
            return 0
        held = {slot: worker.watch.sample() for slot, worker in busy if worker.watch is not None}
        slot, worker = max(busy, key=lambda pair: (pair[1].parts_sent == 0, held.get(pair[0], 0)))
        assert worker.watch is not None
        worker.watch.kill()
        if len(busy) > 1 and not worker.alone and worker.parts_sent == 0:
            self._replace(slot, None, put_back=True)
            return 0
        context = "" if len(busy) == 1 else f", next to {len(busy) - 1} other file(s), after it had sent parts"
        reason = (
            f"stopped at {total / MB:.0f} MB for the whole run, {worker.watch.peak_mb:.0f} MB of it in this file's "
            f"worker{context}: over the limit ([limits] run_memory_mb = {budget})"
        )
        return self._replace(slot, reason)

    def _hand_out(self, queue: list[tuple[int, SourceFile]]) -> None:
        """Give idle workers files, in order and within the window; a file put back by the run limit
        waits until every other file in flight is done, then is read with no other beside it."""
        if any(worker.alone for worker in self._pool):
            return
        for worker in self._pool:
            if not worker.ready or worker.task is not None or worker.retiring:
                continue
            if self._put_back:
                if any(other.task is not None for other in self._pool):
                    return
                worker.task, worker.alone = self._put_back.pop(0), True
            elif queue and queue[-1][0] < self._consumed + self.window:
                worker.task = queue.pop()
            else:
                return
            worker.watch = FileWatch(worker.process.pid)
            worker.conn.send(worker.task)
            if worker.alone:
                return

    def _dispatch(self, sources: list[SourceFile]) -> None:
        try:
            self._dispatch_all(sources)
        except BaseException as error:  # the consumer must hear of it, not wait for results forever
            with self._cond:
                self._fatal = error
                self._cond.notify_all()

    def _dispatch_all(self, sources: list[SourceFile]) -> None:
        queue = list(enumerate(sources))
        queue.reverse()
        finished = 0
        policed = time.monotonic()
        while finished < len(sources):
            with self._cond:
                if self._stop:
                    return
                self._hand_out(queue)
            waiting = [w.conn for w in self._pool] + [w.process.sentinel for w in self._pool]
            ready = set(wait(waiting, timeout=SAMPLE_SECONDS))
            for slot, worker in enumerate(self._pool):
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    kind, index, payload = worker.conn.recv()
                except (EOFError, OSError):
                    finished += self._replace(slot, None)
                    continue
                if kind == "page":
                    if worker.watch is not None:
                        worker.watch.pages += 1
                    if self.on_page is not None:
                        self.on_page()
                    continue
                if kind == "part":
                    worker.parts_sent += 1
                    with self._cond:
                        self._parts.setdefault(index, deque()).append(payload)
                        self._cond.notify_all()
                    continue
                if kind == "ready":
                    worker.ready = True
                    continue
                if kind == "retiring":
                    worker.retiring = True
                    continue
                if kind == "raise" and index is None:  # the worker could not even start: nor will the others
                    with self._cond:
                        self._fatal = payload
                        self._cond.notify_all()
                    return
                if isinstance(payload, PreparedFile) and worker.watch is not None:
                    worker.watch.sample()
                    update: dict = {
                        "peak_memory_mb": worker.watch.peak_mb,
                        "wall_seconds": round(worker.watch.elapsed(), 2),
                    }
                    if worker.alone and payload.error is None:
                        note = (
                            "read again alone: the run went over [limits] run_memory_mb = "
                            f"{self.limits.run_memory_mb} while it was read next to other files"
                        )
                        update["warnings"] = (*payload.warnings, note)
                    payload = payload.model_copy(update=update)
                worker.clear()
                self._finish(index, payload)
                finished += 1
            if time.monotonic() - policed >= SAMPLE_SECONDS:
                finished += self._police()
                policed = time.monotonic()

    def close(self) -> None:
        self._halt()  # begun but never mapped: the run ended before the driver asked for results
        for worker in self._pool:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in self._pool:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._pool = []
        shutil.rmtree(self._spool, ignore_errors=True)
        if self.spool_folder is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.spool_folder)  # only when empty
