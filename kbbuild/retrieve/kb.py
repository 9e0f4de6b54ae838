"""A KB you can search: the storage class plus the model and search code, kept out of ``store``.

``store.kb.KB`` is the folder, its versions, tags, lock and tables; it never imports a model or
the search code, so that writers (ingest, gc, rollback) and readers of raw rows stay light.
``SearchableKB`` adds what a query needs: the version's own embedding model, proved to be the
same model, and a ``Searcher``. ``kbbuild.KB`` is this class.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kbbuild.errors import KBError
from kbbuild.records import Manifest, SearchHit
from kbbuild.store.kb import KB

if TYPE_CHECKING:
    from kbbuild.config import Settings
    from kbbuild.plugins import Registry
    from kbbuild.providers import Embedder
    from kbbuild.retrieve.search import Searcher


class SearchableKB(KB):
    """One collection of a KB folder, with search (``kbbuild.KB``)."""

    def load_embedder(self, manifest: Manifest, registry: Registry, settings: Settings) -> Embedder:
        """Load the model the version was built with, at the precision it was built with (int8
        vectors are a space of their own), and prove it is the same model."""
        recorded = manifest.embedding
        provider = registry.named("embedders", recorded.provider)
        location = recorded.location if Path(recorded.location).is_dir() else recorded.name
        settings = settings.model_copy(deep=True)
        settings.embed.precision = recorded.precision
        embedder = provider.load(location, settings)
        if not embedder.info.compatible_with(recorded):
            raise KBError(
                f"the model loaded from {location} ({embedder.info.name}, {embedder.info.dim} dims, "
                f"{embedder.info.precision}) does not match the one KB version {manifest.kb_version} was built "
                f"with ({recorded.name}, {recorded.dim} dims, {recorded.precision})"
            )
        return embedder

    def check_model_request(self, manifest: Manifest, requested: str, registry: Registry) -> None:
        """Refuse, before any model is loaded, to search with a model other than the KB's."""
        recorded = manifest.embedding
        provider = registry.embedder_for("auto", requested)  # the provider that would load the requested model
        asked = provider.describe(requested)
        if asked != recorded.name:
            raise KBError(
                f"KB version {manifest.kb_version} was built with {recorded.name} "
                f"({recorded.dim} dims, {recorded.pooling} pooling); you asked to query with "
                f"{asked}. Vectors of different models are not comparable: "
                "drop --embed-model to use the KB's own model, or rebuild the KB with "
                f"`kbbuild ingest DOCS --kb {self.path} --full --embed-model {requested}`."
            )

    def searcher(
        self,
        version: int | None = None,
        *,
        embed_model: str | None = None,
        settings: Settings | None = None,
        registry: Registry | None = None,
    ) -> Searcher:
        """A ``Searcher`` on one version, with the version's own embedding model loaded."""
        from kbbuild.config import Settings
        from kbbuild.embed.models import reads_only_english
        from kbbuild.plugins import Registry, make_plugin_manager
        from kbbuild.retrieve.search import Searcher

        settings = settings or Settings()
        registry = registry or Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
        manifest = self.manifest(version)
        if embed_model is not None:
            self.check_model_request(manifest, embed_model, registry)
        embedder = self.load_embedder(manifest, registry, settings)
        return Searcher(
            self.connect(),
            manifest,
            lambda text: embedder.embed_queries([text])[0],
            settings.index,
            english_only=reads_only_english(manifest.embedding.name),
        )

    def query(
        self,
        text: str,
        *,
        k: int | None = None,
        version: int | None = None,
        mode: str | None = None,
        where: str | None = None,
        questions: bool | None = None,
        rerank: bool | None = None,
        embed_model: str | None = None,
        settings: Settings | None = None,
        registry: Registry | None = None,
    ) -> list[SearchHit]:
        """Search one version; unset arguments come from ``settings.query``."""
        from kbbuild.config import Settings
        from kbbuild.retrieve.rerank import load_reranker

        settings = settings or Settings()
        q = settings.query
        if not text.strip():
            raise KBError("the query is empty")
        searcher = self.searcher(version, embed_model=embed_model, settings=settings, registry=registry)
        use_rerank = q.rerank if rerank is None else rerank
        return searcher.search(
            text,
            k=k or q.k,
            mode=mode or q.mode,
            where=where,
            questions=q.questions if questions is None else questions,
            candidates=q.candidates,
            rrf_k=q.rrf_k,
            fusion=q.fusion,
            rerank=load_reranker(q.reranker, q.device) if use_rerank else None,
            rerank_candidates=q.rerank_candidates,
        )
