"""Progress on stderr, one bar per stage: files prepared (and their pages), chunks given synthetic
questions (when a generator is on), chunks embedded, rows written. With stages overlapping, a single
bar would show only the slowest one; a bar per stage shows where the run is and which stage holds it
up. The parse bar's ETA is the run's (files are known up front); the other totals grow as prepared
files reveal their chunks, so the questions bar's ETA is for the chunks parsed so far."""

from __future__ import annotations

import threading

from tqdm import tqdm

from kbbuild.records import PreparedFile


class Progress:
    def __init__(self, files: int, enabled: bool, questions: bool = False) -> None:
        common = dict(disable=not enabled, dynamic_ncols=True, leave=True)
        self.parse = tqdm(total=files, unit="file", desc="parse", position=0, **common)
        below = 1
        self.questions = None
        if questions:
            self.questions = tqdm(total=0, unit="chunk", desc="questions", position=1, **common)
            below = 2
        self.embed = tqdm(total=0, unit="chunk", desc="embed", position=below, **common)
        self.write = tqdm(total=0, unit="row", desc="write", position=below + 1, **common)
        self.pages = 0
        self._lock = threading.Lock()  # the parse pool reports from its dispatcher thread

    def page(self, _number: int | None = None) -> None:
        """A page read, reported as it happens (from a worker, through the pool), so that a long PDF
        moves the bar before its file is done."""
        with self._lock:
            self.pages += 1
            self.parse.set_postfix_str(f"{self.pages} pages", refresh=True)

    def prepared(self, _prepared: PreparedFile) -> None:
        with self._lock:
            self.parse.update(1)

    def questions_queued(self, chunks: int) -> None:
        if self.questions is not None:
            with self._lock:
                self.questions.total += chunks
                self.questions.refresh()

    def questions_done(self, chunks: int) -> None:
        """Called from the generator's thread."""
        if self.questions is not None:
            with self._lock:
                self.questions.update(chunks)

    def queued(self, chunks: int) -> None:
        with self._lock:
            self.embed.total += chunks
            self.embed.refresh()

    def embedded(self, chunks: int) -> None:
        with self._lock:
            self.embed.update(chunks)

    def written(self, rows: int) -> None:
        with self._lock:
            self.write.total += rows
            self.write.update(rows)

    def close(self) -> None:
        for bar in (self.write, self.embed, self.questions, self.parse):
            if bar is not None:
                bar.close()
