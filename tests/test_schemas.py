"""The JSON Schemas in schemas/ match the code, and what kbbuild writes validates against them."""

from __future__ import annotations

import json

import jsonschema
import lancedb
import pytest

from kbbuild.schemas import build_schemas

from .conftest import ROOT

SCHEMAS = ROOT / "schemas"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def test_committed_schemas_are_up_to_date():
    generated = build_schemas()
    committed = {p.name for p in SCHEMAS.glob("*.schema.json")}
    assert committed == set(generated), "run `kbbuild schemas --out schemas`"
    for name, schema in generated.items():
        assert json.loads((SCHEMAS / name).read_text(encoding="utf-8")) == schema, (
            f"{name} is stale: run `kbbuild schemas --out schemas`"
        )


@pytest.mark.parametrize("name", sorted(p.name for p in SCHEMAS.glob("*.schema.json")))
def test_schema_is_valid_json_schema(name):
    jsonschema.Draft202012Validator.check_schema(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


@pytest.mark.slow
def test_manifest_on_disk_validates(sample_kb):
    kb, _ = sample_kb
    manifest_file = next((kb / "versions").glob("*.json"))
    jsonschema.validate(json.loads(manifest_file.read_text(encoding="utf-8")), _schema("manifest"))


@pytest.mark.slow
def test_table_rows_validate(sample_kb):
    kb, _ = sample_kb
    table = lancedb.connect(str(kb / "lancedb")).open_table("chunks").to_arrow()
    assert set(table.column_names) == set(_schema("kb-row")["properties"])
    for row in table.to_pylist():
        jsonschema.validate(row, _schema("kb-row"))


@pytest.mark.slow
def test_cli_json_outputs_validate(sample_kb, cli, tmp_path):
    kb, _ = sample_kb
    hits = json.loads(cli("query", "error code E17", "--kb", kb, "--json").output)
    jsonschema.validate(hits, _schema("query-results"))
    docs = tmp_path / "one"
    docs.mkdir()
    (docs / "a.pdf").write_bytes((ROOT / "samples" / "harbor_q3_2026_results.pdf").read_bytes())
    report = json.loads(cli("ingest", docs, "--kb", tmp_path / "kb", "--json", "--no-progress").output)
    jsonschema.validate(report, _schema("ingest-report"))


def test_config_schema_accepts_the_documented_example():
    import tomllib

    example = tomllib.loads((ROOT / "docs" / "kbbuild.example.toml").read_text(encoding="utf-8"))
    jsonschema.validate(example, _schema("config"))
    # ... and documents every key (keys whose default is "unset" are shown commented out).
    from kbbuild.config import Settings

    defaults = Settings().model_dump()
    missing = [
        f"{section}.{key}"
        for section, values in defaults.items()
        if isinstance(values, dict)
        for key in values
        if key not in example.get(section, {}) and values[key] is not None
    ]
    assert not missing
