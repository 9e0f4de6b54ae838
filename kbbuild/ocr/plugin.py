"""Registers the OCR, layout and table backends."""

from __future__ import annotations

from kbbuild.hookspecs import hookimpl
from kbbuild.ocr.paddle import PaddleOcrEngine
from kbbuild.ocr.rapid import RapidLayoutModel, RapidOcr, RapidTableModel


@hookimpl
def kbbuild_register_ocr_engines(register) -> None:
    register(RapidOcr())
    register(PaddleOcrEngine())


@hookimpl
def kbbuild_register_layout_models(register) -> None:
    register(RapidLayoutModel())


@hookimpl
def kbbuild_register_table_models(register) -> None:
    register(RapidTableModel())
