"""The Ray engine (``--engine ray``): the same ``pipeline.prepare`` code, run by Ray Data over one
document per row, feeding the same driver stages as the local pool.

What runs where:

- on the cluster: parse, clean and chunk (``prepare``), as a ``map_batches`` stage of actors (one
  per CPU the cluster offers, each loading its tools once, as a local worker does). Only
  ``PreparedFile`` records come back (chunk text and page facts), never rendered pages;
- on the cluster too (``[ingest] ray_embed``, the default): embedding, as a second ``map_batches``
  stage of actors that load the KB's embedder once (one GPU each where the cluster has GPUs). With
  ``[ingest] ray_write`` (the default) the same actors write each batch's chunk rows into the chunks
  table as uncommitted Lance fragments (``store.staging``) and send back only the fragments'
  metadata; otherwise a file's vectors come back with it, keyed by the digest of the text embedded,
  and the driver's embedding stage uses them (``EmbedStage.known``). Either is used only when the
  actors' embedder describes itself exactly as the driver's does (model, backend, precision,
  dimensions): a GPU actor running fp16 would otherwise mix vectors of two models in one KB;
- on the driver: discovery and the unchanged-file check (only new or changed files are sent), the
  duplicate index (whose links delete the staged rows of duplicates), synthetic questions and their
  vectors, and the one commit: the staged fragments are appended in one operation with the driver's
  own rows, then the indexes and the manifest. Rows come back in plan order (Ray Data's
  ``preserve_order``), so the KB is the local engine's, row for row and id for id.

Limits on the cluster: each parse actor caps its own address space from ``[limits] file_memory_mb``
(a file over it fails with the limit named, as locally) and reads long PDFs with one page-range
process (it has one CPU). Not yet on the cluster: the resident-memory watchdog and the
``file_seconds`` deadline (Ray's memory monitor kills a task that would take the node down, and Ray
Data retries it); a long PDF is read window by window by one actor, not split across the cluster.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from kbbuild.config import Settings
from kbbuild.errors import ConfigError
from kbbuild.records import EmbeddingModelInfo, PreparedFile, SourceFile
from kbbuild.store.staging import StagingTarget

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
    """A Ray Data actor: the parse tools loaded once, then one document per row, under the part of
    ``[limits]`` a process can enforce on itself: its address space is capped at its size after
    start-up plus 1.5x ``file_memory_mb`` (as a local worker's is), so a file that would take the node
    down fails at once with the limit named, and the actor goes on with the next file. The local
    pool's resident-memory watchdog and its ``file_seconds`` deadline need a process outside the one
    reading the file: on the cluster, Ray's memory monitor is that outside process."""

    def __init__(self, settings_json: str, plugins: bytes, debug: bool) -> None:
        from kbbuild.pipeline.limits import cap_address_space, limit_malloc_arenas
        from kbbuild.pipeline.prepare import PrepareTools

        limit_malloc_arenas()
        settings = Settings.model_validate_json(settings_json)
        self.limits = settings.limits
        self.tools = PrepareTools.load(settings, pickle.loads(plugins), debug=debug, limits=settings.limits)
        cap_address_space(settings.limits)

    def __call__(self, batch: dict) -> dict:
        from kbbuild.pipeline.limits import out_of_memory_reason, trim_heap
        from kbbuild.pipeline.prepare import prepare

        prepared = []
        for source_json in batch["source"]:
            source = SourceFile.model_validate_json(source_json)
            try:
                result = prepare(source, self.tools)
            except MemoryError:  # outside the parser's own handling (joining a huge file's parts)
                result = PreparedFile(source=source, parser="", error=out_of_memory_reason(self.limits))
            trim_heap()  # an actor is not replaced after a big file, as a local worker may be
            prepared.append(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        return {"index": batch["index"], "prepared": prepared, "prepared_on": [_node()] * len(prepared)}


def _node() -> str:
    """The Ray node this actor runs on (the report says where the work went)."""
    import ray

    return ray.get_runtime_context().get_node_id()[:8]


def text_key(text: str) -> bytes:
    """What a vector travels under: a digest of the text embedded, not the text a second time."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class _Embed:
    """A Ray Data actor: the KB's embedder loaded once; the chunks of each prepared file embedded, and
    with a staging target their rows written as uncommitted Lance fragments (``store.staging``), so
    that only the fragments' metadata goes back to the driver; without one, the vectors go back."""

    def __init__(self, settings_json: str, plugins: bytes, target: StagingTarget | None) -> None:
        from kbbuild.plugins import Registry, make_plugin_manager

        settings = Settings.model_validate_json(settings_json)
        registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins, pickle.loads(plugins)))
        self.embedder = registry.named("embedders", settings.embed.provider).load(settings.embed.model, settings)
        self.with_heading_path = settings.chunk.embed_heading_path
        self.info = self.embedder.info.model_dump_json()
        self.target = target

    def __call__(self, batch: dict) -> dict:
        files: list[PreparedFile] = [pickle.loads(prepared) for prepared in batch["prepared"]]
        per_file = [[c.embedding_text(self.with_heading_path) for c in f.chunks] for f in files]
        texts = list(dict.fromkeys(text for own in per_file for text in own))  # a text once per batch
        by_text = dict(zip(texts, self.embedder.embed_documents(texts) if texts else [], strict=True))
        embedder = [self.info] * len(files)
        batch = {**batch, "embedded_on": [_node()] * len(files)}
        if self.target is not None:
            from kbbuild.store.staging import StagedFile, write_staged_rows

            staged = [
                StagedFile(f.chunks, np.asarray([by_text[t] for t in own], dtype=np.float32), f.parser)
                for f, own in zip(files, per_file, strict=True)
            ]
            fragments = write_staged_rows(self.target, staged)  # one write for the batch: fewer, larger fragments
            return {**batch, "fragments": [fragments] + [NO_FRAGMENTS] * (len(files) - 1), "embedder": embedder}
        out = [
            pickle.dumps({text_key(t): by_text[t] for t in own}, protocol=pickle.HIGHEST_PROTOCOL) for own in per_file
        ]
        return {**batch, "vectors": out, "embedder": embedder}


NO_FRAGMENTS = pickle.dumps([])


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
    _target: StagingTarget | None = None
    staged: list = field(default_factory=list, repr=False)  # fragments the actors wrote, for the driver to commit
    mismatch: str | None = None  # why the cluster's vectors were not used
    nodes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # stage -> node -> files

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
    def _cpu_embedders(self) -> int:
        """Embedding actors that need a CPU each (none where the cluster has GPUs for them). Both
        actor pools together never ask for more CPUs than the cluster has: a parse pool grown to
        every CPU would leave the embedding stage none, and the run would wait forever (seen on
        two nodes of one CPU each). Half the CPUs embed: on a CPU the model is the heavier stage. A
        cluster of one CPU runs its one embedding actor without reserving a CPU for it."""
        if not self.embeds or self._gpus or self._size < 2:
            return 0
        return self._size // 2

    @property
    def embeds(self) -> bool:
        return self.settings.ingest.ray_embed

    def expect(self, embedder_info: EmbeddingModelInfo) -> None:
        """The driver's embedder: the cluster's vectors are used only if its actors run the same."""
        self._expected = embedder_info.model_dump_json()

    def stage_into(self, target: StagingTarget) -> None:
        """Have the embedding actors write the chunk rows themselves, into ``target``."""
        if self.embeds:
            self._target = target

    @property
    def stages_rows(self) -> bool:
        return self.embeds and self._target is not None

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
        actor_settings = self.settings.model_copy(deep=True)
        actor_settings.parse.workers = 1  # one CPU per actor: no page-range processes beside it
        prepared = dataset.map_batches(
            _Prepare,
            fn_constructor_args=(actor_settings.model_dump_json(), self._plugins, self.debug),
            batch_size=1,
            concurrency=(1, max(1, min(self._size - self._cpu_embedders, len(sources)))),
            num_cpus=1,
        )
        if self.embeds:
            prepared = prepared.map_batches(
                _Embed,
                fn_constructor_args=(settings_json, self._plugins, self._target),
                batch_size=4,
                concurrency=(1, max(1, min(self._gpus or self._cpu_embedders, len(sources)))),
                num_cpus=1 if self._cpu_embedders else 0,
                num_gpus=1 if self._gpus else 0,
            )
        for row in prepared.iter_rows():
            result: PreparedFile = pickle.loads(row["prepared"])
            for stage in ("prepared_on", "embedded_on"):
                if stage in row:
                    self.nodes[stage][row[stage]] += 1
            if "vectors" in row:
                self._keep_vectors(row["vectors"], row["embedder"])
            if "fragments" in row and self._same_embedder(row["embedder"]):
                self.staged.extend(pickle.loads(row["fragments"]))
                if result.chunks:
                    result = result.model_copy(update={"rows_staged": True})
            if self.on_done is not None:
                self.on_done(result)
            yield result

    def spread(self) -> str:
        """Where the files went: per stage, how many files each node took."""
        parts = []
        for stage, label in (("prepared_on", "prepared"), ("embedded_on", "embedded")):
            counts = self.nodes.get(stage)
            if counts:
                each = ", ".join(f"{node} {count}" for node, count in sorted(counts.items()))
                parts.append(f"{label} on {len(counts)} node{'s' if len(counts) > 1 else ''} ({each} files)")
        return "--engine ray: files " + "; ".join(parts) if parts else ""

    def _same_embedder(self, embedder: str) -> bool:
        """Whether the actors embedded with the driver's model; if not, their vectors (and the rows they
        staged, which are never committed) are set aside and the driver embeds and writes the file."""
        if embedder == self._expected:
            return True
        self.mismatch = self.mismatch or (
            f"the cluster's embedder ({embedder}) is not the driver's ({self._expected}): its vectors were not used"
        )
        return False

    def _keep_vectors(self, vectors: bytes, embedder: str) -> None:
        if self._same_embedder(embedder):
            self._vectors.update(pickle.loads(vectors))

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
