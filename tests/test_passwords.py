"""Encrypted PDFs with a user password: refused with a hint, read with the password from a file of
patterns or the environment (``--pdf-password``), and the password is written nowhere in the KB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import hostile_corpus

SECRET = "open-sesame"  # the password hostile_corpus.encrypted_user sets


def _ingest(docs: Path, kb: Path, *flags: str, env: dict | None = None) -> tuple[int, dict, str]:
    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(kb), "--json", "--no-progress"]
    done = subprocess.run([*command, *flags], capture_output=True, text=True, env=env, timeout=600)
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def _status(report: dict, name: str) -> dict:
    return next(f for f in report["files"] if f["relpath"] == name)


def test_an_encrypted_pdf_is_read_with_its_password_and_the_password_is_kept_out_of_the_kb(tmp_path):
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    hostile_corpus.encrypted_user(docs / "hr" / "payroll.pdf")
    (docs / "note.txt").write_text(hostile_corpus.GOOD_NOTE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "KBBUILD_PDF_PASSWORD"}

    code, report, _ = _ingest(docs, tmp_path / "none", env=env)
    refused = _status(report, "hr/payroll.pdf")
    assert code == 1 and refused["status"] == "failed"
    assert "cannot be opened without a password" in refused["error"] and "--pdf-password" in refused["error"]

    code, report, _ = _ingest(docs, tmp_path / "wrong", "--pdf-password", "not-it", env=env)
    assert "the password given for it is wrong" in _status(report, "hr/payroll.pdf")["error"]

    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"hr/*.pdf": SECRET}), encoding="utf-8")
    kb = tmp_path / "kb"
    code, report, output = _ingest(docs, kb, "--pdf-password-file", str(passwords), env=env)
    read = _status(report, "hr/payroll.pdf")
    assert code == 0 and read["status"] == "ingested" and read["chunks"] >= 1
    assert SECRET not in output
    for path in kb.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path

    code, report, _ = _ingest(docs, tmp_path / "env", env={**env, "KBBUILD_PDF_PASSWORD": SECRET})
    assert code == 0 and _status(report, "hr/payroll.pdf")["status"] == "ingested"


def test_a_malformed_password_file_is_refused_before_any_work(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text(hostile_corpus.GOOD_NOTE, encoding="utf-8")
    passwords = tmp_path / "passwords.json"
    passwords.write_text('["not", "a", "mapping"]', encoding="utf-8")
    command = [sys.executable, "-m", "kbbuild", "ingest", str(docs), "--kb", str(tmp_path / "kb")]
    done = subprocess.run([*command, "--pdf-password-file", str(passwords)], capture_output=True, text=True)
    assert done.returncode == 2 and "must be a JSON object" in done.stderr
    assert not (tmp_path / "kb").exists() or not any((tmp_path / "kb").rglob("*.json"))
