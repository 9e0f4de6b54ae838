"""PaddleOCR itself as an OCR engine (``[ocr] engine = "paddleocr"``, extra ``kbbuild[paddle]``).

Where its models come from (``[ocr] paddle_models``):
- ``"wheel"`` (default): PaddleOCR's PP-OCRv4 mobile detection and recognition models, taken from
  the ONNX files that the rapidocr-onnxruntime wheel ships and laid out as PaddleX model folders
  (``inference.onnx`` + a generated ``inference.yml``) in kbbuild's cache, run on PaddleOCR's ONNX
  Runtime engine. Works offline; same models as the default backend, through PaddleOCR's own
  pre- and post-processing.
- ``"hub"``: PaddleOCR's default models (PP-OCRv5), downloaded by PaddleOCR on first use.
- a folder path: holds PaddleX model folders named ``PP-OCRv4_mobile_det`` and
  ``PP-OCRv4_mobile_rec`` (or whatever ``paddle_det_model``/``paddle_rec_model`` name).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from kbbuild.config import OcrSettings
from kbbuild.ocr.rapid import quad_to_bbox
from kbbuild.providers import OcrEngine
from kbbuild.records import OcrLine

_lock = threading.Lock()
DET_MODEL = "PP-OCRv4_mobile_det"
REC_MODEL = "PP-OCRv4_mobile_rec"


def cache_dir() -> Path:
    base = os.environ.get("KBBUILD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kbbuild"
    )
    return Path(base)


def _rapidocr_models() -> Path | None:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def _write_folder(folder: Path, onnx: Path, config: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "inference.onnx"
    if not target.exists():
        target.symlink_to(onnx)
    (folder / "inference.yml").write_text(config, encoding="utf-8")


def models_from_wheel() -> tuple[Path, Path]:
    """PaddleX model folders for PP-OCRv4 mobile det/rec, made from rapidocr's ONNX files."""
    import onnxruntime
    import yaml

    source = _rapidocr_models()
    if source is None:
        raise FileNotFoundError("rapidocr-onnxruntime (which ships the PP-OCRv4 ONNX files) is not installed")
    det_onnx, rec_onnx = source / "ch_PP-OCRv4_det_infer.onnx", source / "ch_PP-OCRv4_rec_infer.onnx"
    root = cache_dir() / "paddle-models"
    det, rec = root / DET_MODEL, root / REC_MODEL
    if not (det / "inference.yml").exists():
        det_config = {
            "Global": {"model_name": DET_MODEL},
            "PreProcess": {
                "transform_ops": [
                    {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                    {"DetResizeForTest": {"resize_long": 960}},
                    {
                        "NormalizeImage": {
                            "mean": [0.485, 0.456, 0.406],
                            "std": [0.229, 0.224, 0.225],
                            "scale": "1./255.",
                            "order": "hwc",
                        }
                    },
                    {"ToCHWImage": None},
                ]
            },
            "PostProcess": {
                "name": "DBPostProcess",
                "thresh": 0.3,
                "box_thresh": 0.6,
                "max_candidates": 1000,
                "unclip_ratio": 1.5,
            },
        }
        _write_folder(det, det_onnx, yaml.safe_dump(det_config, allow_unicode=True))
    if not (rec / "inference.yml").exists():
        session = onnxruntime.InferenceSession(str(rec_onnx), providers=["CPUExecutionProvider"])
        characters = session.get_modelmeta().custom_metadata_map["character"].splitlines()
        rec_config = {
            "Global": {"model_name": REC_MODEL},
            "PreProcess": {
                "transform_ops": [
                    {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                    {"RecResizeImg": {"image_shape": [3, 48, 320]}},
                ]
            },
            "PostProcess": {"name": "CTCLabelDecode", "character_dict": characters},
        }
        _write_folder(rec, rec_onnx, yaml.safe_dump(rec_config, allow_unicode=True))
    return det, rec


@cache
def _pipeline(source: str, det_name: str, rec_name: str):
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # no hub probing offline
    from paddleocr import PaddleOCR

    common = dict(use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False)
    if source == "hub":
        return PaddleOCR(**common)
    if source == "wheel":
        det, rec = models_from_wheel()
    else:
        det, rec = Path(source) / det_name, Path(source) / rec_name
    return PaddleOCR(
        engine="onnxruntime",
        text_detection_model_name=det_name,
        text_detection_model_dir=str(det),
        text_recognition_model_name=rec_name,
        text_recognition_model_dir=str(rec),
        **common,
    )


def _paddleocr_version() -> str:
    try:
        return metadata.version("paddleocr")
    except metadata.PackageNotFoundError:
        return "missing"


class PaddleOcrEngine(OcrEngine):
    name = "paddleocr"
    version = f"1+paddleocr-{_paddleocr_version()}"

    def __init__(self, settings: OcrSettings | None = None) -> None:
        self.settings = settings or OcrSettings()

    def configure(self, settings: OcrSettings) -> PaddleOcrEngine:
        return PaddleOcrEngine(settings)

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("paddleocr") is None:
            return "the paddleocr package is not installed (pip install 'kbbuild[paddle]')"
        source = self.settings.paddle_models
        if source == "wheel" and _rapidocr_models() is None:
            return "paddle_models = 'wheel' needs rapidocr-onnxruntime, which ships the model files"
        if source not in ("wheel", "hub"):
            for name in (self.settings.paddle_det_model, self.settings.paddle_rec_model):
                if not (Path(source) / name / "inference.yml").is_file():
                    return f"model folder {Path(source) / name} (with inference.yml) not found"
        return None

    def device(self) -> str:
        return "cpu" if self.settings.paddle_models != "hub" else _paddle_device()

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        s = self.settings
        with _lock:
            pipeline = _pipeline(s.paddle_models, s.paddle_det_model, s.paddle_rec_model)
            results = list(pipeline.predict(image, text_det_unclip_ratio=s.unclip_ratio))
        lines = []
        for result in results:
            for text, score, poly in zip(result["rec_texts"], result["rec_scores"], result["rec_polys"], strict=True):
                if text:
                    lines.append(OcrLine(text=str(text), bbox=quad_to_bbox(poly), confidence=float(score)))
        return lines


def _paddle_device() -> str:
    try:
        import paddle

        return "gpu" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() else "cpu"
    except Exception:
        return "unavailable"
