"""The parse stage on a Ray cluster (``--engine ray``): the same ``pipeline.prepare`` code, run by
Ray Data over one document per row, feeding the same driver stages as the local pool.

What runs where, in this second slice of the scale-out engine:

- on the cluster: parse, clean and chunk (``prepare``), as a ``map_batches`` stage of actors (one
  per CPU the cluster offers, each loading its tools once, as a local worker does). Only
  ``PreparedFile`` records come back (chunk text and page facts), never rendered pages;
- on the driver, unchanged: discovery and the unchanged-file check (only new or changed files are
  sent), the duplicate index, synthetic questions, writing and the one commit. Rows come back in plan order
  (Ray Data's ``preserve_order``), so the KB is the local engine's, row for row and id for id.

- on the cluster too (``[ingest] ray_embed``, the default): embedding, as a second ``map_batches``
  stage of actors that load the KB's embedder once (one GPU each where the cluster has GPUs). A
  file's vectors come back with it, keyed by the digest of the text embedded; the driver's embedding
  stage uses them (``EmbedStage.known``) and runs its own model only on what the cluster did not
  embed (synthetic questions, a file whose vectors did not come back). The vectors are used only when
  the actors' embedder describes itself exactly as the driver's does (model, backend, precision,
  dimensions): a GPU actor running fp16 would otherwise mix vectors of two models in one KB.

Not yet on the cluster: parallel Lance writes into a staging area. Per-file limits are Ray's (its
memory monitor kills a task that would take the node down and Ray Data retries it), not
``[limits]``. A file is sent whole: the windowed parts of the local pool are not used.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from kbbuild.config import Settings
from kbbuild.errors import ConfigError
from kbbuild.records import EmbeddingModelInfo, PreparedFile, SourceFile

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


def text_key(text: str) -> bytes:
    """What a vector travels under: a digest of the text embedded, not the text a second time."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class _Embed:
    """A Ray Data actor: the KB's embedder loaded once; the chunks of each prepared file embedded."""

    def __init__(self, settings_json: str, plugins: bytes) -> None:
        from kbbuild.plugins import Registry, make_plugin_manager

        settings = Settings.model_validate_json(settings_json)
        registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins, pickle.loads(plugins)))
        self.embedder = registry.named("embedders", settings.embed.provider).load(settings.embed.model, settings)
        self.with_heading_path = settings.chunk.embed_heading_path
        self.info = self.embedder.info.model_dump_json()

    def __call__(self, batch: dict) -> dict:
        files = [pickle.loads(prepared) for prepared in batch["prepared"]]
        per_file = [[c.embedding_text(self.with_heading_path) for c in f.chunks] for f in files]
        texts = list(dict.fromkeys(text for own in per_file for text in own))  # a text once per batch
        by_text = dict(zip(texts, self.embedder.embed_documents(texts) if texts else [], strict=True))
        out = [
            pickle.dumps({text_key(t): by_text[t] for t in own}, protocol=pickle.HIGHEST_PROTOCOL) for own in per_file
        ]
        return {**batch, "vectors": out, "embedder": [self.info] * len(files)}


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
    _gpus: int = 0
    _plugins: bytes = field(default=b"", repr=False)
    _expected: str | None = None  # the driver's embedder, described as the actors describe theirs
    _vectors: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)
    mismatch: str | None = None  # why the cluster's vectors were not used

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
        resources = ray.cluster_resources()
        self._size = max(1, int(resources.get("CPU", 1)))
        self._gpus = int(resources.get("GPU", 0))
        self._plugins = pickle.dumps(self.extra_plugins)

    @property
    def embeds(self) -> bool:
        return self.settings.ingest.ray_embed

    def expect(self, embedder_info: EmbeddingModelInfo) -> None:
        """The driver's embedder: the cluster's vectors are used only if its actors run the same."""
        self._expected = embedder_info.model_dump_json()

    def known_vector(self, text: str) -> np.ndarray | None:
        """The vector the cluster computed for ``text`` (each is handed out once), or None."""
        return self._vectors.pop(text_key(text), None)

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
        if self.embeds:
            prepared = prepared.map_batches(
                _Embed,
                fn_constructor_args=(settings_json, self._plugins),
                batch_size=4,
                concurrency=(1, max(1, min(self._gpus or self._size, len(sources)))),
                num_cpus=0 if self._gpus else 1,
                num_gpus=1 if self._gpus else 0,
            )
        for row in prepared.iter_rows():
            result: PreparedFile = pickle.loads(row["prepared"])
            if "vectors" in row:
                self._keep_vectors(row["vectors"], row["embedder"])
            if self.on_done is not None:
                self.on_done(result)
            yield result

    def _keep_vectors(self, vectors: bytes, embedder: str) -> None:
        if embedder != self._expected:
            self.mismatch = self.mismatch or (
                f"the cluster's embedder ({embedder}) is not the driver's ({self._expected}): its vectors were not used"
            )
            return
        self._vectors.update(pickle.loads(vectors))

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
