"""Shared fixtures: the bundled samples ingested once per session into a real LanceDB KB, with the
real packaged embedding model (loaded once per process and shared by every test)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbbuild.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DATA = Path(__file__).resolve().parent / "data"


def quiet_settings(**chunk) -> Settings:
    settings = Settings()
    settings.ingest.progress = False
    for key, value in chunk.items():
        setattr(settings.chunk, key, value)
    return settings


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory):
    """(kb path, report) for the samples folder ingested once."""
    from kbbuild import ingest

    kb = tmp_path_factory.mktemp("sample") / "kb"
    report = ingest(SAMPLES, kb, quiet_settings())
    return kb, report


@pytest.fixture()
def docs_copy(tmp_path) -> Path:
    """A private copy of the sample PDFs that a test may change."""
    target = tmp_path / "docs"
    target.mkdir()
    for pdf in SAMPLES.glob("*.pdf"):
        shutil.copy(pdf, target / pdf.name)
    return target


@pytest.fixture()
def cli():
    from kbbuild.cli.app import app

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run
