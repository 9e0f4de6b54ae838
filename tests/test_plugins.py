"""The plugin system: built-ins arrive through entry points like any third-party plugin, the
example plugin in plugins/ works once installed, and hooks are called with typed records."""

from __future__ import annotations

from importlib import metadata

import pytest

from kbbuild import hookimpl, ingest
from kbbuild.errors import PluginError
from kbbuild.plugins import ENTRY_POINT_GROUP, Registry, make_plugin_manager
from kbbuild.providers import Chunker, Enricher
from kbbuild.records import Manifest

from .conftest import quiet_settings

SRT = """1
00:00:01,000 --> 00:00:04,000
Welcome to the quarterly maintenance briefing.

2
00:00:04,500 --> 00:00:09,000
The new torque limit for the volute bolts is 38 newton metres.
"""


def test_builtins_are_registered_through_the_entry_point_group():
    names = {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names["pdf_textlayer"] == "kbbuild.parse.pdf.plugin"
    pm = make_plugin_manager()
    registered = {name for name, _ in pm.list_name_plugin()}
    assert {"pdf_textlayer", "clean_text", "chunk_structure", "embed_flag", "export_jsonl", "ocr_rapid"} <= registered
    registry = Registry.from_plugin_manager(pm)
    assert registry.parser_for("pdf", {}).name == "pdf"


def test_example_plugin_is_discovered_and_parses_its_format(tmp_path, cli):
    registry = Registry.from_plugin_manager(make_plugin_manager())
    assert registry.parser_for("srt", {}).name == "srt"
    listing = cli("plugins")
    assert "kbbuild-srt" in listing.output and "srt" in listing.output


@pytest.mark.slow
def test_example_plugin_files_are_ingested_and_searchable(tmp_path):
    from kbbuild import KB

    docs = tmp_path / "talks"
    docs.mkdir()
    (docs / "briefing.srt").write_text(SRT, encoding="utf-8")
    report = ingest(docs, tmp_path / "kb", quiet_settings())
    assert report.exit_code == 0 and report.files[0].parser == "srt"
    hit = KB.open(tmp_path / "kb").query("torque limit for volute bolts", k=1, settings=quiet_settings())[0]
    assert hit.source == "briefing.srt" and "38 newton metres" in hit.text and hit.pages == []


class _Recorder:
    """A plugin object (pluggy accepts any object with hookimpls) that sees every stage."""

    def __init__(self) -> None:
        self.committed: list[Manifest] = []
        self.enriched = 0

    @hookimpl
    def kbbuild_version_committed(self, kb_path, manifest):
        self.committed.append(manifest)

    @hookimpl
    def kbbuild_register_enrichers(self, register):
        recorder = self

        class CountingEnricher(Enricher):
            name = "count"
            version = "0"

            def enrich(self, chunks, settings):
                recorder.enriched += len(chunks)
                return [c.model_copy(update={"meta": {**c.meta, "enriched": True}}) for c in chunks]

        register(CountingEnricher())


@pytest.mark.slow
def test_enrich_and_commit_hooks_run_in_the_pipeline(tmp_path):
    import json

    import lancedb

    from .conftest import SAMPLES

    recorder = _Recorder()
    report = ingest(
        SAMPLES / "harbor_q3_2026_results.pdf", tmp_path / "kb", quiet_settings(), extra_plugins=(recorder,)
    )
    assert [m.kb_version for m in recorder.committed] == [report.kb_version]
    assert recorder.enriched == report.counts.chunks_added > 0
    rows = lancedb.connect(str(tmp_path / "kb" / "lancedb")).open_table("chunks").to_arrow().to_pylist()
    assert all(json.loads(r["meta_json"]) == {"enriched": True} for r in rows)
    assert any(p.name == "count" and p.kind == "enricher" for p in recorder.committed[0].plugins)


def test_provider_name_clash_and_wrong_type_are_refused():
    class Twice:
        @hookimpl
        def kbbuild_register_chunkers(self, register):
            class Dup(Chunker):
                name = "structure"
                version = "0"

                def chunk(self, document, settings):
                    return []

            register(Dup())

    with pytest.raises(PluginError, match="both named 'structure'"):
        Registry.from_plugin_manager(make_plugin_manager(extra_plugins=(Twice(),)))

    class Wrong:
        @hookimpl
        def kbbuild_register_parsers(self, register):
            register(object())

    with pytest.raises(PluginError, match="is not a Parser"):
        Registry.from_plugin_manager(make_plugin_manager(extra_plugins=(Wrong(),)))


def test_missing_plugin_module_and_pinned_parser_are_clear_errors():
    with pytest.raises(PluginError, match="cannot import plugin module 'no_such_plugin'"):
        make_plugin_manager(["no_such_plugin"])
    registry = Registry.from_plugin_manager(make_plugin_manager())
    with pytest.raises(PluginError, match="parser 'docling' pinned for pdf is not available"):
        registry.parser_for("pdf", {"pdf": "docling"})


def _write_module(folder, name: str, api: str | None) -> None:
    declared = f"kbbuild_api = {api!r}\n" if api is not None else ""
    (folder / f"{name}.py").write_text(
        "from kbbuild import hookimpl\n"
        "from kbbuild.providers import Chunker\n"
        f"{declared}"
        "class Lines(Chunker):\n"
        f"    name = '{name}-lines'\n"
        "    version = '1'\n"
        "    def chunk(self, document, settings, count_tokens):\n"
        "        return []\n"
        "@hookimpl\n"
        "def kbbuild_register_chunkers(register):\n"
        "    register(Lines())\n",
        encoding="utf-8",
    )


def test_a_plugin_module_loads_with_plugin_and_its_api_range_is_checked(tmp_path, cli, monkeypatch):
    """``--plugin module`` loads a module that is not installed; a module whose ``kbbuild_api``
    range excludes this kbbuild's API version is refused with both versions named."""
    from kbbuild.hookspecs import API_VERSION

    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "fits_api", ">=1.0,<2")
    _write_module(tmp_path, "future_api", ">=2")
    _write_module(tmp_path, "bad_api", "one point oh")
    listed = cli("plugins", "--plugin", "fits_api")
    assert listed.exit_code == 0, listed.output
    assert f"kbbuild plugin API {API_VERSION}" in listed.output and "fits_api-lines" in listed.output
    refused = cli("plugins", "--plugin", "future_api")
    assert refused.exit_code == 2
    assert (
        f"plugin 'future_api' supports kbbuild plugin API >=2, but this kbbuild provides API {API_VERSION}"
        in refused.output
    )
    assert "not a version range" in cli("plugins", "--plugin", "bad_api").output
    ingest_refused = cli("ingest", tmp_path, "--kb", tmp_path / "kb", "--plugin", "future_api", "--no-progress")
    assert ingest_refused.exit_code == 2 and "supports kbbuild plugin API >=2" in ingest_refused.output
    assert not (tmp_path / "kb" / "versions").exists()


def test_the_example_cleaner_plugin_redacts_case_numbers_before_chunking(tmp_path, cli):
    """plugins/kbbuild-caseids, installed like any third-party package (make dev installs it)."""
    import json

    import lancedb

    pytest.importorskip("kbbuild_caseids", reason="the example plugin is not installed (make dev)")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "claims.md").write_text(
        "# Storm claims\n\nClaim CLM-2026-004512 was paid on 3 March; CASE-2025-88123 is still open.\n",
        encoding="utf-8",
    )
    assert "case-ids" in cli("plugins").output
    report = json.loads(cli("ingest", docs, "--kb", tmp_path / "kb", "--json", "--no-progress").output)
    [record] = report["files"]
    assert record["status"] == "ingested"
    assert "case-ids: 2 claim or case numbers redacted" in record["warnings"]
    rows = lancedb.connect(str(tmp_path / "kb" / "lancedb")).open_table("chunks").to_arrow().to_pylist()
    text = " ".join(row["text"] + " " + row["search_text"] for row in rows)
    assert "[CASE-ID]" in text and "004512" not in text and "88123" not in text


def test_a_plugin_that_raises_on_one_file_fails_that_file_with_its_name(tmp_path, cli, monkeypatch):
    import json

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fragile_rules.py").write_text(
        "from kbbuild import hookimpl\n"
        "from kbbuild.providers import Cleaner\n"
        "class Fragile(Cleaner):\n"
        "    name = 'fragile'\n"
        "    version = '1'\n"
        "    def clean(self, document, settings):\n"
        "        if any('boom' in e.text for e in document.elements):\n"
        "            raise ValueError('cannot handle this one')\n"
        "        return document\n"
        "@hookimpl\n"
        "def kbbuild_register_cleaners(register):\n"
        "    register(Fragile())\n",
        encoding="utf-8",
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fine.md").write_text("# Fine\n\nThe berth reopens on Monday after the inspection.\n", encoding="utf-8")
    (docs / "bad.md").write_text("# Bad\n\nThis note says boom and the plugin trips on it.\n", encoding="utf-8")
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--plugin", "fragile_rules", "--json", "--no-progress")
    assert result.exit_code == 1, result.output  # one file failed, the other is committed
    files = {f["relpath"]: f for f in json.loads(result.output)["files"]}
    assert files["fine.md"]["status"] == "ingested"
    assert files["bad.md"]["status"] == "failed"
    assert files["bad.md"]["error"] == (
        "internal error while clean, in cleaner 'fragile' from fragile_rules: ValueError: cannot handle this one"
    )
