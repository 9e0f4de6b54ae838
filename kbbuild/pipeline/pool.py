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
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from kbbuild.config import Settings
from kbbuild.records import PreparedFile, SourceFile


def _serve(conn: Connection, settings_json: str, plugins: bytes, debug: bool) -> None:
    """A worker's main loop: load the tools once, then prepare one file per message."""
    from kbbuild.pipeline.prepare import PrepareTools, prepare
    from kbbuild.workers import exit_with_parent

    exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        settings = Settings.model_validate_json(settings_json)
        tools = PrepareTools.load(settings, pickle.loads(plugins), debug=debug)
    except BaseException as error:  # a configuration error would fail every file: the driver raises it
        conn.send(("raise", None, error))
        return
    conn.send(("ready", None, None))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, source = task
        try:
            conn.send(("done", index, prepare(source, tools)))
        except BaseException as error:
            conn.send(("raise", index, error))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    task: tuple[int, SourceFile] | None = None


def _death(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the worker process reading this file died: killed by {name}{hint}"
    return f"the worker process reading this file died (exit code {code})"


@dataclass
class ParsePool:
    """``workers`` processes running ``prepare``; use ``map`` once, then ``close``."""

    workers: int
    settings: Settings
    extra_plugins: tuple[object, ...] = ()
    debug: bool = False
    window: int = 0
    on_done: Callable[[PreparedFile], None] | None = None
    _pool: list[_Worker] = field(default_factory=list)
    _results: dict[int, PreparedFile | BaseException] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _consumed: int = 0
    _stop: bool = False
    _fatal: BaseException | None = None
    _size: int = 0

    def __post_init__(self) -> None:
        self.window = self.window or self.workers * 4
        self._context = multiprocessing.get_context("spawn")
        worker_settings = self.settings.model_copy(deep=True)
        worker_settings.parse.workers = 1  # page-range pools inside file workers would oversubscribe
        self._settings_json = worker_settings.model_dump_json()
        self._plugins = pickle.dumps(self.extra_plugins)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child, self._settings_json, self._plugins, self.debug), daemon=True
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
            self._pool = [self._start() for _ in range(min(self.workers, max(files, 1)))]
            self._size = len(self._pool)

    def map(self, sources: list[SourceFile]) -> Iterator[PreparedFile]:
        """Prepared files in the order of ``sources``."""
        self.start(len(sources))
        dispatcher = threading.Thread(target=self._dispatch, args=(sources,), name="kbbuild-parse-dispatch")
        dispatcher.start()
        try:
            for index in range(len(sources)):
                with self._cond:
                    while index not in self._results and self._fatal is None:
                        self._cond.wait()
                    if self._fatal is not None:
                        raise self._fatal
                    result = self._results.pop(index)
                    self._consumed = index + 1
                    self._cond.notify_all()
                if isinstance(result, BaseException):
                    raise result
                yield result
        finally:
            with self._cond:
                self._stop = True
                self._cond.notify_all()
            dispatcher.join()

    def _finish(self, index: int, result: PreparedFile | BaseException) -> None:
        if isinstance(result, PreparedFile) and self.on_done is not None:
            self.on_done(result)
        with self._cond:
            self._results[index] = result
            self._cond.notify_all()

    def _dispatch(self, sources: list[SourceFile]) -> None:
        queue = list(enumerate(sources))
        queue.reverse()
        finished = 0
        while finished < len(sources):
            with self._cond:
                if self._stop:
                    return
                for worker in self._pool:
                    if worker.ready and worker.task is None and queue and queue[-1][0] < self._consumed + self.window:
                        worker.task = queue.pop()
                        worker.conn.send(worker.task)
            waiting = [w.conn for w in self._pool] + [w.process.sentinel for w in self._pool]
            ready = set(wait(waiting, timeout=0.2))
            for slot, worker in enumerate(self._pool):
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    kind, index, payload = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(timeout=5)
                    if worker.task is not None:
                        index, source = worker.task
                        failed = PreparedFile(source=source, parser="", error=_death(worker.process))
                        self._finish(index, failed)
                        finished += 1
                    worker.conn.close()
                    self._pool[slot] = self._start()
                    continue
                if kind == "ready":
                    worker.ready = True
                    continue
                if kind == "raise" and index is None:  # the worker could not even start: nor will the others
                    with self._cond:
                        self._fatal = payload
                        self._cond.notify_all()
                    return
                worker.task = None
                self._finish(index, payload)
                finished += 1

    def close(self) -> None:
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
