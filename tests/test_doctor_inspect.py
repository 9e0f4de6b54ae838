"""`kbbuild doctor` and `kbbuild inspect`, run as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from .conftest import SAMPLES


def test_doctor_reports_the_offline_stack_as_usable(cli):
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("rapidocr", "rapid-layout", "rapid-table", "flagembedding", "pdf"):
        line = next(line for line in lines if f" {name} " in line)
        assert line.startswith("ok   *"), line
    assert any("rapidocr" in line and "[cpu]" in line for line in lines)
    # The reranker is not used by default; offline, its hub model is reported as not downloaded.
    reranker = next(line for line in lines if " reranker " in line)
    assert "bge-reranker-v2-m3" in reranker and not reranker.startswith("ok   *")


def test_doctor_says_why_a_configured_backend_cannot_run(cli, tmp_path):
    config = tmp_path / "kbbuild.toml"
    config.write_text('[ocr]\nengine = "tesseract"\n[embed]\nmodel = "BAAI/bge-m3"\n')
    result = cli("doctor", "--config", config, "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert not checks["tesseract"]["ok"] and "no installed plugin" in checks["tesseract"]["detail"]
    assert "downloads on first use" in checks["flagembedding"]["detail"]


@pytest.mark.slow
def test_doctor_deep_runs_each_model(cli):
    result = cli("doctor", "--deep")
    assert result.exit_code == 0, result.output
    assert "ran on a test image" in result.output and "384 dims" in result.output


def test_inspect_draws_regions_over_the_page(cli, tmp_path):
    out = tmp_path / "page.png"
    result = cli("inspect", SAMPLES / "lakeside_newsletter.pdf", "--page", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert "9 elements on page 1" in result.output
    image = Image.open(out)
    assert image.size[0] > 800
    # Coloured boxes were drawn: the page is no longer only black text on white.
    pixels = np.asarray(image.convert("RGB")).astype(int)
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 60).sum()
    assert coloured > 2000


def test_inspect_markdown_shows_structure(cli):
    result = cli("inspect", SAMPLES / "northwind_field_manual.pdf", "--markdown")
    assert result.exit_code == 0
    md = result.output
    assert md.index("# Northwind Pumps Field Service Manual") < md.index("## 3 Maintenance schedule")
    assert "### 3.1 Pressure sensor calibration" in md
    assert "<!-- page 3 -->" in md
    table = cli("inspect", SAMPLES / "harbor_q3_2026_results.pdf", "--markdown").output
    assert "| APAC | 11.3 | 14.2 | +25.7% |" in table


def test_inspect_needs_something_to_show_and_a_real_page(cli, tmp_path):
    assert cli("inspect", SAMPLES / "lakeside_newsletter.pdf").exit_code == 2
    result = cli("inspect", SAMPLES / "lakeside_newsletter.pdf", "--page", "5", "--out", tmp_path / "x.png")
    assert result.exit_code == 4 and "page 5 does not exist" in result.output
    (tmp_path / "fake.pdf").write_text("<html></html>")
    result = cli("inspect", tmp_path / "fake.pdf", "--markdown")
    assert result.exit_code == 4 and "not a PDF" in result.output
