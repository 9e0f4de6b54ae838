"""The plugin manager and the registry of providers it yields.

Built-in stages and third-party plugins are found the same way: the ``kbbuild`` entry point group.
Extra modules can be named in ``kbbuild.toml`` (``plugins = ["my_module"]``), the way ``pytest -p``
loads a plugin that is not installed as a package.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from kbbuild import hookspecs
from kbbuild.errors import PluginError
from kbbuild.providers import (
    Chunker,
    Cleaner,
    EmbedderProvider,
    Enricher,
    Exporter,
    LayoutModel,
    OcrEngine,
    Parser,
    Provider,
    QuestionGenerator,
    TableModel,
)
from kbbuild.records import PluginInfo

ENTRY_POINT_GROUP = "kbbuild"


def make_plugin_manager(
    extra_modules: Iterable[str] = (), extra_plugins: Iterable[object] = ()
) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for name in extra_modules:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise PluginError(f"cannot import plugin module '{name}': {error}") from None
        if not pm.is_registered(module):
            pm.register(module, name=name)
    for plugin in extra_plugins:
        pm.register(plugin)
    for name, plugin in pm.list_name_plugin():
        check_api_version(name, plugin)
    return pm


def check_api_version(name: str, plugin: object) -> None:
    """Refuse a plugin whose declared ``kbbuild_api`` range does not include this kbbuild's API
    version, rather than let it fail later on a hook or record it does not know."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    declared = getattr(plugin, "kbbuild_api", None)
    if declared is None:
        return
    try:
        supported = SpecifierSet(str(declared))
    except InvalidSpecifier:
        raise PluginError(f"plugin '{name}' declares kbbuild_api = {declared!r}: not a version range") from None
    if not supported.contains(hookspecs.API_VERSION, prereleases=True):
        raise PluginError(
            f"plugin '{name}' supports kbbuild plugin API {declared}, but this kbbuild provides API "
            f"{hookspecs.API_VERSION}: install a version of the plugin made for it"
        )


@dataclass
class Registry:
    """All providers the loaded plugins registered, by kind."""

    parsers: list[Parser] = field(default_factory=list)
    cleaners: list[Cleaner] = field(default_factory=list)
    chunkers: list[Chunker] = field(default_factory=list)
    enrichers: list[Enricher] = field(default_factory=list)
    question_generators: list[QuestionGenerator] = field(default_factory=list)
    embedders: list[EmbedderProvider] = field(default_factory=list)
    exporters: list[Exporter] = field(default_factory=list)
    ocr_engines: list[OcrEngine] = field(default_factory=list)
    layout_models: list[LayoutModel] = field(default_factory=list)
    table_models: list[TableModel] = field(default_factory=list)

    @classmethod
    def from_plugin_manager(cls, pm: pluggy.PluginManager) -> Registry:
        registry = cls()
        hook = pm.hook
        hook.kbbuild_register_parsers(register=registry._adder(registry.parsers, Parser))
        hook.kbbuild_register_cleaners(register=registry._adder(registry.cleaners, Cleaner))
        hook.kbbuild_register_chunkers(register=registry._adder(registry.chunkers, Chunker))
        hook.kbbuild_register_enrichers(register=registry._adder(registry.enrichers, Enricher))
        hook.kbbuild_register_question_generators(
            register=registry._adder(registry.question_generators, QuestionGenerator)
        )
        hook.kbbuild_register_embedders(register=registry._adder(registry.embedders, EmbedderProvider))
        hook.kbbuild_register_exporters(register=registry._adder(registry.exporters, Exporter))
        hook.kbbuild_register_ocr_engines(register=registry._adder(registry.ocr_engines, OcrEngine))
        hook.kbbuild_register_layout_models(register=registry._adder(registry.layout_models, LayoutModel))
        hook.kbbuild_register_table_models(register=registry._adder(registry.table_models, TableModel))
        registry.cleaners.sort(key=lambda c: (c.order, c.name))
        registry.enrichers.sort(key=lambda e: (e.order, e.name))
        if not registry.parsers:
            raise PluginError(
                "no parser is registered: kbbuild's entry points are missing. "
                "Install the package (pip install -e .) rather than running it from a source folder."
            )
        return registry

    @staticmethod
    def _adder(target: list, expected: type[Provider]):
        def register(provider: Provider) -> None:
            if not isinstance(provider, expected):
                raise PluginError(f"{provider!r} is not a {expected.__name__}")
            if any(existing.name == provider.name for existing in target):
                raise PluginError(f"two {expected.kind} providers are both named '{provider.name}'")
            target.append(provider)

        return register

    def parser_for(self, fmt: str, pinned: dict[str, str]) -> Parser | None:
        """The parser for a format: the pinned one, else the highest priority claimant."""
        candidates = [p for p in self.parsers if fmt in p.formats]
        if fmt in pinned:
            chosen = [p for p in candidates if p.name == pinned[fmt]]
            if not chosen:
                names = ", ".join(p.name for p in candidates) or "none"
                raise PluginError(f"parser '{pinned[fmt]}' pinned for {fmt} is not available (have: {names})")
            return chosen[0]
        return max(candidates, key=lambda p: p.priority, default=None)

    def supported_formats(self) -> set[str]:
        return {fmt for parser in self.parsers for fmt in parser.formats}

    def embedder_for(self, provider: str, model: str) -> EmbedderProvider:
        """The embedder provider named ``provider``, or for "auto" the one that claims ``model``
        (a provider's own model names first, then the catch-all)."""
        if provider != "auto":
            return self.named("embedders", provider)
        for candidate in sorted(self.embedders, key=lambda p: p.catch_all):
            if candidate.claims(model):
                return candidate
        names = ", ".join(p.name for p in self.embedders) or "none"
        raise PluginError(f"no embedder claims the model '{model}' (available: {names}); set [embed] provider")

    def named(self, kind: str, name: str):
        providers: list[Provider] = getattr(self, kind)
        for provider in providers:
            if provider.name == name:
                return provider
        names = ", ".join(p.name for p in providers) or "none"
        raise PluginError(f"no {kind[:-1]} named '{name}' (available: {names})")

    def describe(self) -> list[PluginInfo]:
        everything: list[Provider] = [
            *self.parsers,
            *self.cleaners,
            *self.chunkers,
            *self.enrichers,
            *self.question_generators,
            *self.embedders,
            *self.exporters,
            *self.ocr_engines,
            *self.layout_models,
            *self.table_models,
        ]
        return [PluginInfo(name=p.name, version=p.version, kind=p.kind) for p in everything]


def plugin_origins(pm: pluggy.PluginManager) -> list[tuple[str, str, str]]:
    """(plugin name, distribution, version) for every registered plugin, for ``kbbuild plugins``."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        dist = dists.get(id(plugin))
        rows.append((name, dist.project_name, dist.version) if dist else (name, "(not installed)", "-"))
    return rows


def kbbuild_version() -> str:
    try:
        return metadata.version("kbbuild")
    except metadata.PackageNotFoundError:  # running from a source tree
        from kbbuild import __version__

        return __version__
