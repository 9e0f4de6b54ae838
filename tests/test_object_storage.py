"""DOCS on S3: a real S3 server (moto's, over HTTP on localhost, reached through s3fs and botocore
exactly as a bucket on AWS or MinIO would be). The prefix is mirrored locally; a second run over an
unchanged bucket downloads nothing, a changed object is downloaded again, a deleted one leaves the KB,
and a key that would leave the mirror folder is refused."""

from __future__ import annotations

import json

import pytest

from kbbuild.pipeline.remote import _safe_relpath, is_remote, remote_uri

POLICY = "# Travel policy\n\nStaff travel second class by train; trips over six hours may be flown.\n"
SENSOR = "# Sensor care\n\nThe NW-300 pressure sensor must be recalibrated every 90 days.\n"
FUEL = "# Fuel\n\nFuel is sold at berth four between eight and five on weekdays.\n"


@pytest.fixture()
def bucket(monkeypatch, tmp_path):
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    import urllib.request

    # moto keeps its buckets in this process across servers: start each test from an empty store.
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("KBBUILD_CACHE", str(tmp_path / "cache"))
    import kbbuild.pipeline.remote as remote

    monkeypatch.setattr(remote, "MIRRORS", tmp_path / "cache" / "mirrors")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # a cached client would keep a previous test's endpoint
    client = boto3.client("s3")
    client.create_bucket(Bucket="filings")
    yield client
    server.stop()


def _ingest(cli, tmp_path, *extra):
    result = cli("ingest", "s3://filings/docs", "--kb", tmp_path / "kb", "--json", "--no-progress", *extra)
    return json.loads(result.output), result.exit_code


def test_uris_are_recognised_even_after_a_path_ate_a_slash():
    assert remote_uri("s3://bucket/docs") == "s3://bucket/docs"
    assert remote_uri(str(__import__("pathlib").Path("s3://bucket/docs"))) == "s3://bucket/docs"
    assert is_remote("gs://bucket") and not is_remote("docs/s3:/x") and not is_remote("/tmp/docs")
    assert _safe_relpath("docs/a/b.md", "docs") == "a/b.md"
    for key in ("docs/../etc/passwd", "docs//x.md", "docs/./x.md", "docs/a\\..\\b"):
        assert _safe_relpath(key, "docs") is None


@pytest.mark.slow
def test_a_bucket_prefix_is_ingested_and_only_changes_are_downloaded(bucket, cli, tmp_path):
    bucket.put_object(Bucket="filings", Key="docs/policy.md", Body=POLICY.encode())
    bucket.put_object(Bucket="filings", Key="docs/manuals/sensor.md", Body=SENSOR.encode())
    bucket.put_object(Bucket="filings", Key="docs/fuel.md", Body=FUEL.encode())
    bucket.put_object(Bucket="filings", Key="elsewhere/secret.md", Body=b"# Not under the prefix\n")
    report, code = _ingest(cli, tmp_path)
    assert code == 0
    assert sorted(f["relpath"] for f in report["files"]) == ["fuel.md", "manuals/sensor.md", "policy.md"]
    [note] = [n for n in report["notes"] if n.startswith("s3://filings/docs")]
    assert "3 objects listed, 3 downloaded, 0 unchanged" in note

    report, code = _ingest(cli, tmp_path)  # an unchanged bucket: listed, nothing downloaded or parsed
    [note] = [n for n in report["notes"] if n.startswith("s3://filings/docs")]
    assert "3 objects listed, 0 downloaded, 3 unchanged" in note
    assert {f["status"] for f in report["files"]} == {"unchanged"}

    bucket.put_object(Bucket="filings", Key="docs/fuel.md", Body=FUEL.replace("five", "six").encode())
    bucket.delete_object(Bucket="filings", Key="docs/policy.md")
    report, code = _ingest(cli, tmp_path)
    [note] = [n for n in report["notes"] if n.startswith("s3://filings/docs")]
    assert "2 objects listed, 1 downloaded, 1 unchanged, 1 gone from the store (removed here)" in note
    assert report["counts"]["files_removed"] == 1
    status = {f["relpath"]: f["status"] for f in report["files"]}
    assert status == {"fuel.md": "ingested", "manuals/sensor.md": "unchanged", "policy.md": "removed"}
    result = cli("query", "when is fuel sold", "--kb", tmp_path / "kb", "-k", "1", "--json")
    assert "between eight and six" in result.output


@pytest.mark.slow
def test_keys_that_leave_the_prefix_are_refused_and_large_objects_stay_in_the_store(bucket, cli, tmp_path):
    bucket.put_object(Bucket="filings", Key="docs/policy.md", Body=POLICY.encode())
    bucket.put_object(Bucket="filings", Key="docs/../../escape.md", Body=b"# Escape\n\nOut of the mirror.\n")
    bucket.put_object(Bucket="filings", Key="docs/big.md", Body=b"# Big\n\n" + b"x " * 40_000)
    config = tmp_path / "kbbuild.toml"
    config.write_text("[ingest]\nmax_file_mb = 0.05\n")
    report, _code = _ingest(cli, tmp_path, "--config", config)
    [note] = [n for n in report["notes"] if n.startswith("s3://filings/docs")]
    assert "1 over [ingest] max_file_mb, not downloaded" in note
    assert "1 refused, key outside the prefix: filings/docs/../../escape.md" in note
    assert not list(tmp_path.rglob("escape.md"))
    files = {f["relpath"]: f for f in report["files"]}
    assert files["policy.md"]["status"] == "ingested"
    # As a local file over the limit: reported with the reason, its earlier rows (none here) kept.
    assert files["big.md"]["status"] == "failed" and "max_file_mb" in json.dumps(files["big.md"])


def test_a_kb_on_object_storage_is_refused_with_the_reason(cli, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(POLICY)
    result = cli("ingest", docs, "--kb", "s3://bucket/kb", "--no-progress")
    assert result.exit_code != 0
    assert "a KB on object storage (s3://bucket/kb) is not supported" in result.output
