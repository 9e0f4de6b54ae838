"""The OpenAI-compatible vector-store search, called by the official ``openai`` client
(``client.vector_stores.search`` / ``.list``) over real HTTP against ``kbbuild serve``'s app."""

from __future__ import annotations

import pytest

from kbbuild.serve.app import create_app

from .test_serve import KEY, quiet, running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def openai_client(sample_kb):
    openai = pytest.importorskip("openai")
    kb, _ = sample_kb
    with running(create_app(kb, quiet(), KEY)) as http:
        yield openai.OpenAI(api_key=KEY, base_url=f"{http.base_url}/v1", max_retries=0)


def test_search_answers_in_openais_format(openai_client):
    page = openai_client.vector_stores.search("default", query="How often must the pressure sensor be recalibrated?")
    results = list(page)
    assert results and len(results) <= 10
    top = results[0]
    assert top.filename == "northwind_field_manual.pdf" and top.file_id == "northwind_field_manual.pdf"
    assert "90 days" in top.content[0].text and top.content[0].type == "text"
    assert 0 < top.score <= 1 and top.attributes["page_start"] == 3 and top.attributes["kb_version"] == 1
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_filters_max_results_threshold_and_several_queries(openai_client):
    question = "How often must the pressure sensor be recalibrated?"
    only_xinghe = openai_client.vector_stores.search(
        "default",
        query=question,
        filters={
            "type": "and",
            "filters": [
                {"type": "in", "key": "source", "value": ["xinghe_faq_zh.md", "xinghe_travel_policy_zh.pdf"]},
                {"type": "gte", "key": "chunk_index", "value": 0},
            ],
        },
        max_num_results=3,
    )
    assert {r.filename for r in only_xinghe} <= {"xinghe_faq_zh.md", "xinghe_travel_policy_zh.pdf"}
    assert 1 <= len(list(only_xinghe)) <= 3
    not_manual = openai_client.vector_stores.search(
        "default", query=question, filters={"type": "ne", "key": "source", "value": "northwind_field_manual.pdf"}
    )
    assert "northwind_field_manual.pdf" not in {r.filename for r in not_manual}
    strict = openai_client.vector_stores.search("default", query=question, ranking_options={"score_threshold": 0.99})
    assert list(strict) == []
    both = openai_client.vector_stores.search("default", query=[question, "出差住宿标准是多少？"], max_num_results=10)
    names = {r.filename for r in both}
    assert "northwind_field_manual.pdf" in names and names & {"xinghe_faq_zh.md", "xinghe_travel_policy_zh.pdf"}


def test_list_shows_the_collections_and_errors_are_the_clients(openai_client):
    import openai

    stores = list(openai_client.vector_stores.list())
    assert [s.id for s in stores] == ["default"] and stores[0].file_counts.completed >= 9
    with pytest.raises(openai.BadRequestError, match="Invalid filters"):
        openai_client.vector_stores.search("default", query="x", filters={"type": "gt", "key": "colour", "value": 3})
    with pytest.raises(openai.NotFoundError):
        openai_client.vector_stores.search("no-such-collection", query="x")
    denied = openai.OpenAI(api_key="wrong-key", base_url=str(openai_client.base_url), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        denied.vector_stores.search("default", query="x")
