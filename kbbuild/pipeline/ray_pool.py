"""The parse stage on a Ray cluster (``--engine ray``): the same ``pipeline.prepare`` code, run by
Ray Data over one document per row, feeding the same driver stages as the local pool.

What runs where, in this first slice of the scale-out engine:

- on the cluster: parse, clean and chunk (``prepare``), as a ``map_batches`` stage of actors (one
  per CPU the cluster offers, each loading its tools once, as a local worker does). Only
  ``PreparedFile`` records come back (chunk text and page facts), never rendered pages;
- on the driver, unchanged: discovery and the unchanged-file check (only new or changed files are
  sent), the duplicate index, embedding, writing and the one commit. Rows come back in plan order
  (Ray Data's ``preserve_order``), so the KB is the local engine's, row for row and id for id.

Not yet on the cluster: embedding (an actor pool with GPUs) and parallel Lance writes into a staging
area; until then the driver's embedder is the bottleneck of a large cluster. Per-file limits are
Ray's (its memory monitor kills a task that would take the node down and Ray Data retries it),
not ``[limits]``. A file is sent whole: the windowed parts of the local pool are not used.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kbbuild.config import Settings
from kbbuild.errors import ConfigError
from kbbuild.records import PreparedFile, SourceFile

INSTALL_HINT = "pip install 'kbbuild[ray]' (Ray Data)"


def ray_unavailable() -> str | None:
    """Why ``--engine ray`` cannot run here, or None."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        return f"--engine ray needs Ray, which is not installed ({error.name}): {INSTALL_HINT}"
    return None


class _Prepare:
    """A Ray Data actor: the parse tools loaded once, then one document per row."""

    def __init__(self, settings_json: str, plugins: bytes, debug: bool) -> None:
        from kbbuild.pipeline.prepare import PrepareTools

        settings = Settings.model_validate_json(settings_json)
        self.tools = PrepareTools.load(settings, pickle.loads(plugins), debug=debug, limits=settings.limits)

    def __call__(self, batch: dict) -> dict:
        from kbbuild.pipeline.prepare import prepare

        prepared = []
        for source_json in batch["source"]:
            source = SourceFile.model_validate_json(source_json)
            prepared.append(pickle.dumps(prepare(source, self.tools), protocol=pickle.HIGHEST_PROTOCOL))
        return {"index": batch["index"], "prepared": prepared}


@dataclass
class RayPool:
    """``ParsePool``'s interface (``start``, ``map``, ``close``) over Ray Data."""

    settings: Settings
    extra_plugins: tuple[object, ...] = ()
    debug: bool = False
    address: str | None = None
    on_done: Callable[[PreparedFile], None] | None = None
    on_page: Callable[[], None] | None = None
    _started_here: bool = False
    _size: int = 0
    _plugins: bytes = field(default=b"", repr=False)

    @property
    def size(self) -> int:
        return self._size

    def start(self, files: int) -> None:
        reason = ray_unavailable()
        if reason is not None:
            raise ConfigError(reason)
        import ray

        if not ray.is_initialized():
            options: dict = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.address:
                options["address"] = self.address
            else:
                options["num_cpus"] = os.cpu_count() or 1
            ray.init(**options)
            self._started_here = True
        self._size = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._plugins = pickle.dumps(self.extra_plugins)

    def map(self, sources: list[SourceFile]) -> Iterator[PreparedFile]:
        """Prepared files in the order of ``sources``."""
        import ray.data

        if not sources:
            return
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        rows = [{"index": index, "source": source.model_dump_json()} for index, source in enumerate(sources)]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        settings_json = self.settings.model_dump_json()
        prepared = dataset.map_batches(
            _Prepare,
            fn_constructor_args=(settings_json, self._plugins, self.debug),
            batch_size=1,
            concurrency=(1, min(self._size, len(sources))),
            num_cpus=1,
        )
        for row in prepared.iter_rows():
            result: PreparedFile = pickle.loads(row["prepared"])
            if self.on_done is not None:
                self.on_done(result)
            yield result

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
