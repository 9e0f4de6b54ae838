"""PaddleOCR's models on ONNX Runtime, from the wheels that ship them (works offline).

- text: PP-OCRv6 small detection + recognition from the rapidocr 3.10 wheel (multilingual: Simplified
  and Traditional Chinese, English, Japanese), or PP-OCRv4 from rapidocr-onnxruntime (Simplified
  Chinese and English); both run by rapidocr-onnxruntime, with its mobile direction classifier
- layout: PP-Structure CDLA layout model, rapid-layout
- tables: SLANet-plus table structure, rapid-table

Each model loads on first use and is shared by the whole process.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from kbbuild.config import OcrSettings
from kbbuild.errors import ConfigError
from kbbuild.providers import LayoutModel, OcrEngine, TableModel
from kbbuild.records import BBox, LayoutRegion, OcrLine

_lock = threading.Lock()

# CDLA's classes -> kbbuild's region kinds (see records.LayoutRegion).
CDLA_KINDS = {
    "text": "text",
    "title": "title",
    "figure": "figure",
    "figure_caption": "caption",
    "table": "table",
    "table_caption": "caption",
    "header": "header",
    "footer": "footer",
    "reference": "reference",
    "equation": "formula",
}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def _missing(module: str, distribution: str, model_files: tuple[str, ...] = ()) -> str | None:
    """Why a backend cannot run: its package or one of the model files its wheel should ship."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return f"the {distribution} package is not installed (pip install {distribution})"
    root = Path(next(iter(spec.submodule_search_locations)))
    for relative in model_files:
        if not (root / relative).is_file():
            return f"model file {relative} is missing from {distribution} (this version ships no model)"
    return None


def onnx_device() -> str:
    """ONNX Runtime runs these models on CUDA when its GPU build is installed, else on the CPU."""
    try:
        import onnxruntime
    except ImportError:
        return "unavailable"
    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


def use_cuda(settings: OcrSettings) -> bool:
    """Whether the ONNX models run on the GPU: asked for (or ``auto``) and possible. Asking for
    CUDA without ONNX Runtime's GPU build is an error, never a silent CPU run."""
    if settings.device == "cpu":
        return False
    available = onnx_device() == "cuda"
    if settings.device == "cuda" and not available:
        raise ConfigError(
            "[ocr] device = 'cuda', but ONNX Runtime has no CUDA provider here (install onnxruntime-gpu "
            "on a machine with an NVIDIA GPU, or use device = 'auto')"
        )
    return available


def quad_to_bbox(points) -> BBox:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return BBox(x0=min(xs), y0=min(ys), x1=max(xs), y1=max(ys))


V6_FILES = ("models/PP-OCRv6_det_small.onnx", "models/PP-OCRv6_rec_small.onnx")
V6_DISTRIBUTION = "rapidocr==3.10.0"


def v6_models() -> tuple[str, str] | None:
    """The PP-OCRv6 small detection and recognition files the rapidocr 3.10 wheel ships (its character
    list is inside the recognition model), found without importing that package: kbbuild runs them with
    rapidocr-onnxruntime, and rapidocr is installed without its dependencies (they would bring a second
    OpenCV)."""
    if _missing("rapidocr", V6_DISTRIBUTION, V6_FILES) is not None:
        return None
    spec = importlib.util.find_spec("rapidocr")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    det, rec = (str(root / name) for name in V6_FILES)
    return det, rec


def chosen_models(settings: OcrSettings) -> str:
    """'pp-ocrv6' or 'pp-ocrv4': what ``[ocr] models`` means on this machine."""
    if settings.models == "auto":
        return "pp-ocrv6" if v6_models() is not None else "pp-ocrv4"
    return settings.models


@cache
def _rapidocr(unclip_ratio: float, cuda: bool, models: str):
    from rapidocr_onnxruntime import RapidOCR

    paths: dict[str, str] = {}
    if models == "pp-ocrv6":
        found = v6_models()
        if found is None:
            raise ConfigError(
                f"[ocr] models = 'pp-ocrv6' needs the {V6_DISTRIBUTION} wheel (pip install --no-deps {V6_DISTRIBUTION})"
            )
        paths = {"det_model_path": found[0], "rec_model_path": found[1]}
    return RapidOCR(det_unclip_ratio=unclip_ratio, det_use_cuda=cuda, cls_use_cuda=cuda, rec_use_cuda=cuda, **paths)


@cache
def _rapid_layout():
    import logging

    from rapid_layout import RapidLayout

    logging.disable(logging.INFO)  # it logs each step of every model load at INFO, to stderr
    try:
        model = RapidLayout()
    finally:
        logging.disable(logging.NOTSET)
    for name in list(logging.root.manager.loggerDict):
        if name.lower().replace("_", "").startswith("rapidlayout"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return model


@cache
def _rapid_table(cuda: bool):
    from rapid_table import RapidTable

    return RapidTable(use_cuda=cuda)


class RapidOcr(OcrEngine):
    name = "rapidocr"
    version = f"1+rapidocr-onnxruntime-{_version('rapidocr-onnxruntime')}"

    def __init__(self, settings: OcrSettings | None = None) -> None:
        self.settings = settings or OcrSettings()
        self.models = chosen_models(self.settings)
        self.version = f"{RapidOcr.version}+{self.models}"

    def configure(self, settings: OcrSettings) -> RapidOcr:
        return RapidOcr(settings)

    def unavailable_reason(self) -> str | None:
        engine = _missing(
            "rapidocr_onnxruntime",
            "rapidocr-onnxruntime",
            ("models/ch_PP-OCRv4_det_infer.onnx", "models/ch_PP-OCRv4_rec_infer.onnx"),
        )
        if engine is None and self.models == "pp-ocrv6" and v6_models() is None:
            why = _missing("rapidocr", V6_DISTRIBUTION, V6_FILES) or "its model files are missing"
            return f"[ocr] models = 'pp-ocrv6': {why} (pip install --no-deps {V6_DISTRIBUTION})"
        return engine

    def device(self) -> str:
        return "cuda" if use_cuda(self.settings) else "cpu"

    @property
    def detail(self) -> str:
        """What ``kbbuild doctor`` says about the models, when they can run."""
        if self.models == "pp-ocrv6":
            return "PP-OCRv6 text models (Simplified and Traditional Chinese, English) from the rapidocr wheel"
        hint = (
            ""
            if self.settings.models == "pp-ocrv4"
            else f"; for Traditional Chinese: pip install --no-deps {V6_DISTRIBUTION}"
        )
        return f"PP-OCRv4 text models (Simplified Chinese, English){hint}"

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        with _lock:
            engine = _rapidocr(self.settings.unclip_ratio, use_cuda(self.settings), self.models)
        result, _ = engine(image)
        return [
            OcrLine(text=str(text), bbox=quad_to_bbox(box), confidence=float(score))
            for box, text, score in (result or [])
        ]


class RapidLayoutModel(LayoutModel):
    name = "rapid-layout"
    version = f"1+rapid-layout-{_version('rapid-layout')}"

    def unavailable_reason(self) -> str | None:
        return _missing("rapid_layout", "rapid-layout", ("models/layout_cdla.onnx",))

    def device(self) -> str:
        return onnx_device()

    def detect(self, image: np.ndarray) -> list[LayoutRegion]:
        with _lock:
            model = _rapid_layout()
        result = model(image)
        regions = []
        for box, label, score in zip(result.boxes or [], result.class_names or [], result.scores or [], strict=True):
            kind = CDLA_KINDS.get(label, "text")
            x0, y0, x1, y1 = (float(v) for v in box)
            regions.append(LayoutRegion(kind=kind, bbox=BBox(x0=x0, y0=y0, x1=x1, y1=y1), score=float(score)))
        return regions


class RapidTableModel(TableModel):
    name = "rapid-table"
    version = f"1+rapid-table-{_version('rapid-table')}"

    def unavailable_reason(self) -> str | None:
        return _missing("rapid_table", "rapid-table", ("models/slanet-plus.onnx",))

    def __init__(self, settings: OcrSettings | None = None) -> None:
        self.settings = settings or OcrSettings()

    def configure(self, settings: OcrSettings) -> RapidTableModel:
        return RapidTableModel(settings)

    def device(self) -> str:
        return "cuda" if use_cuda(self.settings) else "cpu"

    def recognize(self, image: np.ndarray, lines: list[OcrLine]) -> str:
        with _lock:
            model = _rapid_table(use_cuda(self.settings))
        ocr_result = [
            [
                [
                    [ln.bbox.x0, ln.bbox.y0],
                    [ln.bbox.x1, ln.bbox.y0],
                    [ln.bbox.x1, ln.bbox.y1],
                    [ln.bbox.x0, ln.bbox.y1],
                ],
                ln.text,
                ln.confidence,
            ]
            for ln in lines
        ]
        if not ocr_result:
            return ""
        html = model(image, ocr_result)[0]  # (html, cell boxes, seconds)
        return html or ""
