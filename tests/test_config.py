"""Settings: defaults < kbbuild.toml < flags; unknown keys and bad values are refused clearly."""

from __future__ import annotations

import pytest

from kbbuild.config import Settings, load_settings
from kbbuild.errors import ConfigError

from .conftest import ROOT


def test_example_file_equals_the_defaults():
    assert load_settings(ROOT / "docs" / "kbbuild.example.toml") == Settings()


def test_toml_values_apply_and_flags_override_them(tmp_path):
    config = tmp_path / "kbbuild.toml"
    config.write_text('[chunk]\nmax_tokens = 300\n[embed]\nmodel = "BAAI/bge-m3"\n')
    settings = load_settings(config)
    assert settings.chunk.max_tokens == 300 and settings.embed.model == "BAAI/bge-m3"
    overridden = settings.with_overrides({"chunk.max_tokens": 120, "embed.model": None})
    assert overridden.chunk.max_tokens == 120
    assert overridden.embed.model == "BAAI/bge-m3"  # a flag left unset keeps the file's value


def test_kbbuild_toml_in_cwd_is_found(tmp_path):
    (tmp_path / "kbbuild.toml").write_text("[query]\nk = 9\n")
    assert load_settings(search_dir=tmp_path).query.k == 9
    assert load_settings(search_dir=tmp_path / "elsewhere") == Settings()


def test_unknown_key_names_the_key_and_the_valid_ones(tmp_path):
    config = tmp_path / "kbbuild.toml"
    config.write_text("[chunk]\nmax_tokenz = 300\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert "unknown key 'chunk.max_tokenz'" in message
    assert "max_tokens" in message and "overlap_tokens" in message


def test_unknown_section_and_bad_value(tmp_path):
    config = tmp_path / "kbbuild.toml"
    config.write_text('[chunking]\nsize = 1\n[embed]\ndevice = "tpu"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert "unknown key 'chunking'" in message
    assert "embed.device" in message


def test_broken_toml_is_a_usage_error(tmp_path, cli):
    config = tmp_path / "kbbuild.toml"
    config.write_text("[chunk\nmax_tokens = 3")
    result = cli("ingest", ROOT / "samples", "--kb", tmp_path / "kb", "--config", config)
    assert result.exit_code == 2
    assert "not valid TOML" in result.output
    assert not (tmp_path / "kb").exists()


def test_bad_flag_value_is_a_usage_error(tmp_path, cli):
    result = cli("ingest", ROOT / "samples", "--kb", tmp_path / "kb", "--chunk-tokens", "3")
    assert result.exit_code == 2
    assert "chunk.max_tokens" in result.output


def test_fingerprint_tracks_what_changes_vectors_only():
    base = Settings()
    assert base.fingerprint() == base.with_overrides({"embed.batch_size": 4, "query.k": 50}).fingerprint()
    assert base.fingerprint() != base.with_overrides({"chunk.max_tokens": 100}).fingerprint()
    assert base.fingerprint() != base.with_overrides({"embed.model": "BAAI/bge-m3"}).fingerprint()
