"""``kbbuild doctor``: which parsers, OCR/layout/table backends and embedding models can run here,
on which device, and if not, why. Cheap by default (packages and model files are checked, nothing
is loaded); ``deep`` also loads each configured model and runs it once on a tiny input."""

from __future__ import annotations

import platform

import numpy as np
from pydantic import BaseModel

from kbbuild.config import DEFAULT_EMBED_MODEL, Settings
from kbbuild.errors import KbbuildError
from kbbuild.plugins import Registry, kbbuild_version


class Check(BaseModel):
    kind: str
    name: str
    version: str
    configured: bool
    ok: bool
    device: str | None = None
    detail: str = ""


class Diagnosis(BaseModel):
    kbbuild: str
    python: str
    torch: str
    checks: list[Check]

    @property
    def configured_ok(self) -> bool:
        return all(c.ok for c in self.checks if c.configured)


def _torch_summary() -> str:
    try:
        import torch
    except ImportError:
        return "not installed"
    cuda = torch.cuda.is_available()
    return f"{torch.__version__} (cuda: {'yes, ' + torch.cuda.get_device_name(0) if cuda else 'no'})"


def _try_load(provider, settings: Settings, ok: bool, detail: str) -> tuple[bool, str]:
    """``--deep``: load the configured model and say so, or why it failed (never crash the doctor)."""
    try:
        embedder = provider.load(settings.embed.model, settings)
    except Exception as error:
        return False, f"{detail}; failed to load: {error}"
    return ok, f"{detail}; loaded, {embedder.info.dim} dims"


def _embedder_check(registry: Registry, settings: Settings, deep: bool) -> list[Check]:
    from kbbuild.embed.flag import pick_device, pick_engine
    from kbbuild.embed.models import resolve_model

    checks = []
    if settings.embed.model == "auto":  # what a new KB gets; an existing one keeps its own
        settings = settings.with_overrides({"embed.model": DEFAULT_EMBED_MODEL})
    chosen = registry.embedder_for(settings.embed.provider, settings.embed.model).name
    for provider in registry.embedders:
        configured = provider.name == chosen
        ok, detail, device = True, "", None
        if configured and provider.name != "flagembedding":
            detail = f"model {provider.describe(settings.embed.model)}, shipped in its wheel"
            if deep:
                ok, detail = _try_load(provider, settings, ok, detail)
        elif configured:
            resolved = resolve_model(settings.embed.model)
            where = f"local folder {resolved.location}" if resolved.is_local else f"hub name {resolved.location}"
            detail = f"model {resolved.card.name} from {where}"
            if not resolved.is_local:
                detail += " (downloads on first use; offline it must already be in the Hugging Face cache)"
            device = pick_device(settings.embed.device)
            try:
                embed = settings.embed
                engine = pick_engine(embed.backend, embed.precision, device, resolved.card.family)
                detail += (
                    f"; engine {engine} ([embed] backend = {embed.backend}, precision = {embed.precision}"
                    f"{': an existing KB keeps its own' if embed.precision == 'auto' else ''})"
                )
            except KbbuildError as error:
                ok, detail = False, f"{detail}; {error}"
            if deep:
                ok, detail = _try_load(provider, settings, ok, detail)
        checks.append(
            Check(
                kind="embedder",
                name=provider.name,
                version=provider.version,
                configured=configured,
                ok=ok,
                device=device,
                detail=detail,
            )
        )
    return checks


def _model_checks(registry: Registry, settings: Settings, deep: bool) -> list[Check]:
    wanted = {
        "ocr_engines": settings.ocr.engine,
        "layout_models": settings.ocr.layout,
        "table_models": settings.ocr.table,
    }
    probe = np.full((64, 256, 3), 255, dtype=np.uint8)
    checks = []
    for kind, chosen in wanted.items():
        for registered in getattr(registry, kind):
            provider = registered.configure(settings.ocr)
            reason = provider.unavailable_reason()
            configured = settings.ocr.enabled and provider.name == chosen
            detail = reason or getattr(provider, "detail", None) or "package and model files present"
            ok = reason is None
            device = None
            if ok:
                try:
                    device = provider.device()
                except KbbuildError as error:  # e.g. [ocr] device = "cuda" without a GPU build
                    ok, detail = False, str(error)
            if ok and deep and configured:
                try:
                    if kind == "ocr_engines":
                        provider.recognize(probe)
                    elif kind == "layout_models":
                        provider.detect(probe)
                    else:
                        provider.recognize(probe, [])
                    detail += "; ran on a test image"
                except Exception as error:
                    ok, detail = False, f"failed on a test image: {error}"
            checks.append(
                Check(
                    kind=kind[:-1],
                    name=provider.name,
                    version=provider.version,
                    configured=configured,
                    ok=ok,
                    device=device,
                    detail=detail,
                )
            )
        if chosen and not any(p.name == chosen for p in getattr(registry, kind)):
            checks.append(
                Check(
                    kind=kind[:-1],
                    name=chosen,
                    version="-",
                    configured=settings.ocr.enabled,
                    ok=False,
                    detail="configured but no installed plugin provides it",
                )
            )
    return checks


def _question_model_checks(settings: Settings) -> list[Check]:
    """The packaged question models: installed or not, the languages they write, their licence
    (Gemma's terms are not an open-source licence, which is why that model is opt-in)."""
    from kbbuild.enrich.questions.packaged import PACKAGED, packaged_unavailable

    options = settings.questions
    checks = []
    for model in PACKAGED.values():
        reason = packaged_unavailable(model.name)
        writes = "any language" if model.writes is None else ", ".join(sorted(model.writes))
        detail = reason or f"installed; writes questions in {writes}; licence: {model.licence}"
        configured = bool(options.generator) and model.name in (options.model, options.model_zh)
        checks.append(
            Check(
                kind="questions",
                name=model.name,
                version="-",
                configured=configured,
                ok=reason is None,
                detail=detail,
            )
        )
    return checks


def _reranker_check(settings: Settings, deep: bool) -> Check:
    """The cross-encoder of ``query --rerank``: a local folder, or a hub model already cached."""
    from pathlib import Path

    model = settings.query.reranker
    configured = settings.query.rerank
    if Path(model).is_dir():
        ok, detail = True, f"local folder {model}"
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = isinstance(try_to_load_from_cache(model, "config.json"), str)
        except Exception:  # no hub client, or a name it cannot parse: treat as not cached
            cached = False
        ok = cached
        detail = f"hub model {model}: " + (
            "in the Hugging Face cache" if cached else "not in the Hugging Face cache (downloads on first use)"
        )
    if ok and deep:
        try:
            from kbbuild.retrieve.rerank import load_reranker

            load_reranker(model, settings.query.device)("test", ["a test passage"])
            detail += "; loaded and scored a test pair"
        except Exception as error:  # report, never crash the doctor
            ok, detail = False, f"{detail}; failed to load: {error}"
    return Check(kind="reranker", name="flagreranker", version="-", configured=configured, ok=ok, detail=detail)


def diagnose(registry: Registry, settings: Settings, deep: bool = False) -> Diagnosis:
    checks = [
        Check(
            kind="parser",
            name=p.name,
            version=p.version,
            configured=True,
            ok=(reason := p.unavailable_reason()) is None,
            detail="formats: " + ", ".join(sorted(p.formats)) + (f"; cannot run: {reason}" if reason else ""),
        )
        for p in registry.parsers
    ]
    checks += _model_checks(registry, settings, deep)
    checks += _embedder_check(registry, settings, deep)
    checks.append(_reranker_check(settings, deep))
    checks += _question_model_checks(settings)
    return Diagnosis(kbbuild=kbbuild_version(), python=platform.python_version(), torch=_torch_summary(), checks=checks)


def diagnosis_text(diagnosis: Diagnosis) -> str:
    lines = [f"kbbuild {diagnosis.kbbuild}, Python {diagnosis.python}, torch {diagnosis.torch}"]
    for check in diagnosis.checks:
        mark = "ok  " if check.ok else "FAIL"
        used = "*" if check.configured else " "
        device = f" [{check.device}]" if check.device else ""
        lines.append(f"{mark} {used} {check.kind:12} {check.name:16}{device} {check.detail}")
    lines.append("(* = used by the current settings)")
    if not diagnosis.configured_ok:
        lines.append("some providers the current settings use cannot run: see FAIL lines")
    return "\n".join(lines)


__all__ = ["Check", "Diagnosis", "diagnose", "diagnosis_text"]
