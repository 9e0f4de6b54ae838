"""Spaces between CJK characters that the page does not justify are taken out of PDF text: letter-
spaced body text and a name spread across its line read as words again (and jieba finds the words in
the search text), while a real gap between two columns and every space next to Latin text or numbers
stay."""

from __future__ import annotations

import json

import pytest

from kbbuild.parse.pdf.cjk_spacing import squeeze_cjk_spaces
from kbbuild.parse.pdf.textlayer import read_text_layer
from kbbuild.text.segment import search_text

from .conftest import quiet_settings
from .pdfmaker import letter_spaced_chinese_pdf


def test_letter_spacing_is_not_read_as_spaces_but_real_gaps_are(tmp_path):
    pdf = letter_spaced_chinese_pdf(tmp_path / "statement.pdf")
    elements, _, title = read_text_layer(pdf, 1.15, lambda _page: None)
    assert title == "瑞昱半導體股份有限公司"  # pdfminer alone: 瑞 昱 半 導 體 股 份 有 限 公 司
    assert [e.text for e in elements[1:]] == [
        "本公司民國一一二年第一季合併財務報告業經董事會通過。",
        "資誠聯合會計師事務所",  # spread 1.5 em per character: still one name
        "流動資產  非流動資產",  # two columns 1.5 em apart, each set tight: a real gap
        "Realtek Semiconductor Corp. 2023 Q1 營業收入 28,000 千元",
    ]
    assert {"半導體", "股份", "有限公司"} <= set(search_text(title).split())


def test_inside_a_table_cell_every_space_between_cjk_goes():
    assert squeeze_cjk_spaces("應收帳款 －關係人") == "應收帳款－關係人"
    assert squeeze_cjk_spaces("普 通 股 股 本") == "普通股股本"
    assert squeeze_cjk_spaces("Q1 營業 收入 28,000 千元") == "Q1 營業收入 28,000 千元"


@pytest.mark.slow
def test_a_spaced_company_name_is_found_by_full_text_search(tmp_path, cli):
    from kbbuild import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    letter_spaced_chinese_pdf(docs / "statement.pdf")
    kb = tmp_path / "kb"
    ingest(docs, kb, quiet_settings())
    result = cli("query", "瑞昱半導體", "--kb", kb, "--mode", "fts", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits and hits[0]["source"] == "statement.pdf"
    assert "瑞 昱" not in hits[0]["text"] and "本公司民國一一二年" in hits[0]["text"]


def test_look_alike_ideographs_and_radicals_become_the_usual_characters():
    from kbbuild.text.characters import unify_characters

    compatibility, radical = "\uf98e", "\u2f00"  # 年 (U+F98E) and ⼀ (U+2F00), as some PDF fonts map them
    assert unify_characters(f"保險{compatibility}齡") == "保險年齡"
    assert unify_characters(f"第{radical}條") == "第一條"
    assert unify_characters("（一）全形，標點：保留") == "（一）全形，標點：保留"  # no NFKC: full-width stays
    assert search_text(f"保險{compatibility}齡") == search_text("保險年齡")


@pytest.mark.slow
def test_a_policy_written_with_look_alike_characters_is_found_with_the_usual_ones(tmp_path, cli):
    from kbbuild import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "policy.txt").write_text(
        "第十條 保險\uf98e齡的錯誤：要保人應據實告知被保險人的出生\uf98e月日。", encoding="utf-8"
    )
    kb = tmp_path / "kb"
    ingest(docs, kb, quiet_settings())
    hits = json.loads(cli("query", "保險年齡", "--kb", kb, "--mode", "fts", "--json").output)
    assert hits and "保險年齡的錯誤" in hits[0]["text"] and "\uf98e" not in hits[0]["text"]
