"""Bad files are reported with a reason; they never stop the batch or damage a committed version."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from reportlab.pdfgen import canvas

from kbbuild import KB
from kbbuild.records import FileStatus

from .conftest import SAMPLES, quiet_settings

pytestmark = pytest.mark.slow


def _encrypted_pdf() -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, encrypt="secret-password")
    pdf.drawString(72, 720, "Confidential salary table")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture()
def messy_folder(tmp_path):
    folder = tmp_path / "messy"
    folder.mkdir()
    shutil.copy(SAMPLES / "northwind_field_manual.pdf", folder / "good.pdf")
    real = (SAMPLES / "harbor_q3_2026_results.pdf").read_bytes()
    (folder / "corrupt.pdf").write_bytes(real[: len(real) // 3])
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "saved-login-page.pdf").write_text("<!DOCTYPE html><html><body>Please log in</body></html>")
    (folder / "locked.pdf").write_bytes(_encrypted_pdf())
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    return folder


def test_bad_files_are_reported_and_the_rest_ingested(messy_folder, tmp_path, cli):
    kb = tmp_path / "kb"
    result = cli("ingest", messy_folder, "--kb", kb, "--no-progress")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "1 ingested" in out and "5 failed" in out
    assert "empty.pdf: empty file (0 bytes)" in out
    assert "saved-login-page.pdf: named .pdf but it is not a PDF" in out and "HTML" in out
    assert "locked.pdf: encrypted PDF" in out
    assert "corrupt.pdf: corrupt PDF" in out
    assert "garbage.pdf: corrupt PDF" in out
    assert "exit code 1 (partial failure" in out
    hits = KB.open(kb).query("pressure sensor", k=1, settings=quiet_settings())
    assert hits[0].source == "good.pdf"


def test_failures_are_in_the_json_report_and_manifest(messy_folder, tmp_path, cli):
    kb = tmp_path / "kb"
    report = json.loads(cli("ingest", messy_folder, "--kb", kb, "--json", "--no-progress").output)
    failed = {f["relpath"]: f["error"] for f in report["files"] if f["status"] == "failed"}
    assert set(failed) == {"corrupt.pdf", "empty.pdf", "saved-login-page.pdf", "locked.pdf", "garbage.pdf"}
    manifest = KB.open(kb).manifest()
    assert {f.relpath for f in manifest.files if f.status is FileStatus.FAILED} == set(failed)


def test_only_bad_files_commit_nothing_and_keep_the_previous_version(messy_folder, tmp_path, cli):
    kb = tmp_path / "kb"
    assert cli("ingest", messy_folder, "--kb", kb, "--no-progress").exit_code == 1
    before = KB.open(kb).manifest()
    (messy_folder / "good.pdf").write_bytes(b"")  # now every file is bad
    result = cli("ingest", messy_folder, "--kb", kb, "--no-progress")
    assert result.exit_code == 3, result.output
    assert "no new version" in result.output
    after = KB.open(kb)
    assert after.versions() == [before.kb_version]
    assert after.query("pressure sensor", k=1, settings=quiet_settings())[0].source == "good.pdf"


def test_first_ingest_of_only_bad_files_exits_3_without_a_version(tmp_path, cli):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    kb = tmp_path / "kb"
    result = cli("ingest", folder, "--kb", kb, "--no-progress")
    assert result.exit_code == 3, result.output
    assert "no new version" in result.output
    assert KB.open(kb).versions() == []


def test_kb_folder_that_is_not_a_kb_is_refused(tmp_path, cli):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_text("my only copy")
    result = cli("ingest", SAMPLES, "--kb", precious, "--no-progress")
    assert result.exit_code == 4
    assert "not a kbbuild KB" in result.output
    assert (precious / "thesis.docx").read_text() == "my only copy"
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.docx"]


def test_missing_kb_is_a_clear_error(tmp_path, cli):
    result = cli("query", "anything", "--kb", tmp_path / "nope")
    assert result.exit_code == 4
    assert "no knowledge base at" in result.output


def test_chunks_longer_than_the_model_window_are_reported(tmp_path, cli):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    folder = tmp_path / "long"
    folder.mkdir()
    text = " ".join(f"Clause {i} obliges the contractor to inspect valve assembly {i} weekly." for i in range(60))
    SimpleDocTemplate(str(folder / "contract.pdf"), pagesize=A4).build(
        [Paragraph(text, getSampleStyleSheet()["BodyText"])]
    )
    result = cli("ingest", folder, "--kb", tmp_path / "kb", "--chunk-tokens", "1000", "--no-progress")
    assert result.exit_code == 0
    assert "exceed the model's 256-token window" in result.output
    normal = cli("ingest", folder, "--kb", tmp_path / "kb2", "--no-progress")
    assert "token window" not in normal.output
