"""Structure chunking: sections, heading paths, tables, budgets, stable ids (no model needed)."""

from __future__ import annotations

import itertools

from kbbuild.chunk.structure import StructureChunking, split_long_text
from kbbuild.records import Document, Element, ElementKind, SourceFile
from kbbuild.text.lines import join_lines
from kbbuild.text.tokens import count_tokens, split_sentences

SOURCE = SourceFile(path="/x/manual.pdf", relpath="manual.pdf", sha256="0" * 64, size=1, format="pdf")


def _el(kind, text, page=1, level=None):
    return Element(kind=kind, text=text, page=page, level=level, parser="test")


def _doc(*elements, title="Manual"):
    return Document(source=SOURCE, parser="test", elements=tuple(elements), title=title)


def _chunks(doc, budget=60, overlap=0):
    return StructureChunking(doc, budget, overlap).run()


def test_chunks_never_cross_sections_and_carry_heading_paths():
    doc = _doc(
        _el(ElementKind.TITLE, "Manual"),
        _el(ElementKind.HEADING, "1 Safety", level=1),
        _el(ElementKind.PARAGRAPH, "Wear gloves."),
        _el(ElementKind.HEADING, "1.1 Lockout", level=2),
        _el(ElementKind.PARAGRAPH, "Lock the switch.", page=2),
        _el(ElementKind.HEADING, "2 Maintenance", level=1),
        _el(ElementKind.PARAGRAPH, "Calibrate every 90 days.", page=3),
    )
    chunks = _chunks(doc)
    assert [(c.text, c.heading_path, c.pages) for c in chunks] == [
        ("Wear gloves.", ("Manual", "1 Safety"), (1,)),
        ("Lock the switch.", ("Manual", "1 Safety", "1.1 Lockout"), (2,)),
        ("Calibrate every 90 days.", ("Manual", "2 Maintenance"), (3,)),
    ]
    assert [c.chunk_index for c in chunks] == [0, 1, 2]
    assert chunks[2].embedding_text(True) == "Manual > 2 Maintenance\nCalibrate every 90 days."
    assert chunks[2].embedding_text(False) == "Calibrate every 90 days."


def test_small_paragraphs_are_packed_up_to_the_budget_and_furniture_is_dropped():
    doc = _doc(
        _el(ElementKind.PAGE_HEADER, "ACME confidential"),
        *[_el(ElementKind.PARAGRAPH, f"Sentence number {i} about pumps and valves.") for i in range(10)],
        _el(ElementKind.PAGE_NUMBER, "7"),
    )
    chunks = _chunks(doc, budget=30)
    assert len(chunks) > 1
    assert all(c.n_tokens <= 30 for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert "ACME" not in joined and all(f"number {i} " in joined for i in range(10))


def test_table_is_its_own_chunk():
    table = "| Region | Revenue |\n|---|---|\n| APAC | 14.2 |"
    doc = _doc(
        _el(ElementKind.PARAGRAPH, "Revenue rose."),
        _el(ElementKind.TABLE, table),
        _el(ElementKind.PARAGRAPH, "Margins improved."),
    )
    chunks = _chunks(doc)
    assert [c.text for c in chunks] == ["Revenue rose.", table, "Margins improved."]
    assert chunks[1].kinds == (ElementKind.TABLE,)


def test_long_paragraph_is_split_at_sentences_never_mid_word():
    text = " ".join(f"Step {i} requires the technician to check valve V{i} carefully." for i in range(40))
    pieces = split_long_text(text, budget=50, overlap=0)
    assert len(pieces) > 3
    assert all(count_tokens(p) <= 50 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text


def test_overlap_repeats_trailing_sentences():
    text = " ".join(f"Fact {i} is stated here in full." for i in range(12))
    pieces = split_long_text(text, budget=30, overlap=8)
    for before, after in itertools.pairwise(pieces):
        assert before.split(". ")[-1].rstrip(".") in after


def test_chinese_is_split_at_chinese_sentence_ends():
    text = "员工出差优先乘坐高铁。一般员工乘坐二等座！部门总监可乘坐一等座？" * 10
    assert split_sentences("甲。乙！丙？丁；") == ["甲。", "乙！", "丙？", "丁；"]
    pieces = split_long_text(text, budget=40, overlap=0)
    assert all(count_tokens(p) <= 40 for p in pieces)
    assert "".join(pieces) == text
    assert all(p[-1] in "。！？" for p in pieces)


def test_heading_without_body_is_kept_as_a_chunk():
    doc = _doc(_el(ElementKind.HEADING, "Appendix A: Spare parts list", level=1, page=9))
    chunks = _chunks(doc)
    assert [(c.text, c.pages) for c in chunks] == [("Appendix A: Spare parts list", (9,))]


def test_ids_are_stable_and_distinguish_repeats():
    doc = _doc(
        _el(ElementKind.HEADING, "A", level=1),
        _el(ElementKind.PARAGRAPH, "Same text."),
        _el(ElementKind.HEADING, "B", level=1),
        _el(ElementKind.PARAGRAPH, "Same text."),
    )
    first, second = _chunks(doc), _chunks(doc)
    assert [c.id for c in first] == [c.id for c in second]
    assert first[0].id != first[1].id
    moved = SOURCE.model_copy(update={"relpath": "other.pdf"})
    assert _chunks(doc.model_copy(update={"source": moved}))[0].id != first[0].id


def test_line_joining_by_script():
    assert (
        join_lines("The pump is manu-\nfactured in Ohio\nand tested.") == "The pump is manufactured in Ohio and tested."
    )
    assert join_lines("员工出差优先乘坐\n高铁或动车。") == "员工出差优先乘坐高铁或动车。"
    assert join_lines("Well-\nKnown") == "Well-Known"
    assert count_tokens("员工出差 pump") == 5


def test_large_table_is_split_by_rows_with_the_header_repeated():
    header = "| Region | Quarter | Revenue |\n|---|---|---|"
    rows = [f"| Region {i} | Q{i % 4 + 1} | {1000 + i} |" for i in range(40)]
    table = _el(ElementKind.TABLE, header + "\n" + "\n".join(rows))
    table = table.model_copy(update={"meta": {"caption": "Table 3: Revenue by region"}})
    chunks = _chunks(_doc(table), budget=80)
    assert len(chunks) > 2
    seen = []
    for chunk in chunks:
        lines = chunk.text.split("\n")
        assert lines[:3] == ["Table 3: Revenue by region", *header.split("\n")]
        assert chunk.n_tokens <= 80 and chunk.kinds == (ElementKind.TABLE,)
        seen.extend(lines[3:])
    assert seen == rows  # every row once, in order, never cut


LOCKOUT = "Lock the switch before opening the housing; tag it with your name and the date."
CALIBRATE = "Calibrate every 90 days, and after every repair of the sensor head or its cable."


def test_small_sections_join_the_next_one_under_their_shared_path():
    doc = _doc(
        _el(ElementKind.TITLE, "Manual"),
        _el(ElementKind.HEADING, "1 Safety", level=1),
        _el(ElementKind.PARAGRAPH, "Wear gloves."),
        _el(ElementKind.HEADING, "1.1 Lockout", level=2),
        _el(ElementKind.PARAGRAPH, LOCKOUT),
        _el(ElementKind.HEADING, "2 Maintenance", level=1),
        _el(ElementKind.PARAGRAPH, CALIBRATE),
    )
    chunks = StructureChunking(doc, 60, 0, min_tokens=10).run()
    assert [(c.text, c.heading_path) for c in chunks] == [
        ("Wear gloves.\n\n1.1 Lockout\n\n" + LOCKOUT, ("Manual", "1 Safety")),
        (CALIBRATE, ("Manual", "2 Maintenance")),
    ]


def test_a_list_stays_with_its_lead_in_sentence():
    items = [_el(ElementKind.PARAGRAPH, f"• spare part number {i} with its own order code") for i in range(4)]
    doc = _doc(
        _el(ElementKind.PARAGRAPH, "Pumps are shipped from the Ohio plant with a full test report and a manual."),
        _el(ElementKind.PARAGRAPH, "The service kit contains:"),
        *items,
    )
    chunks = _chunks(doc, budget=24)
    assert len(chunks) >= 3
    kit = next(c for c in chunks if "service kit" in c.text)
    assert kit.text.startswith("The service kit contains:") and "• spare part number 0" in kit.text


def test_budget_is_counted_with_the_given_tokenizer():
    def per_character(text: str) -> int:
        return len(text.replace(" ", ""))

    text = " ".join(f"Valve V{i} is checked." for i in range(30))
    pieces = split_long_text(text, budget=60, overlap=0, count=per_character)
    assert len(pieces) > 5 and all(per_character(p) <= 60 for p in pieces)
    assert " ".join(pieces) == text


def test_a_tiny_section_merged_across_top_level_keeps_its_heading_in_the_text():
    """ "SAFETY NOTICE" with one line joins the next top-level section; the shared path is empty,
    so the heading must move into the text instead of vanishing."""
    doc = _doc(
        _el(ElementKind.HEADING, "SAFETY NOTICE", level=1),
        _el(ElementKind.PARAGRAPH, "Wear gloves."),
        _el(ElementKind.HEADING, "2 Maintenance", level=1),
        _el(ElementKind.PARAGRAPH, CALIBRATE),
        title=None,
    )
    chunks = StructureChunking(doc, 60, 0, min_tokens=10).run()
    assert [(c.text, c.heading_path) for c in chunks] == [
        ("SAFETY NOTICE\n\nWear gloves.\n\n2 Maintenance\n\n" + CALIBRATE, ()),
    ]
    assert chunks[0].n_tokens == count_tokens(chunks[0].text)
