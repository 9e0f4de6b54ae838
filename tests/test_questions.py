"""Synthetic questions: the packaged generator (SmolLM2 GGUF from a wheel) and Doc2Query-- filtering
with the KB's real embedding model."""

from __future__ import annotations

import pytest

from kbbuild.config import Settings
from kbbuild.enrich.questions.filtering import judge_questions, looks_like_question
from kbbuild.enrich.questions.hf import language, load_generator
from kbbuild.plugins import Registry, make_plugin_manager

PASSAGE = (
    "The NW-300 pressure sensor must be recalibrated every 90 days, and after any repair of the sensor "
    "head. Use the calibration kit CK-2 and record the result in the service log."
)


@pytest.fixture(scope="module")
def embedder():
    registry = Registry.from_plugin_manager(make_plugin_manager())
    return registry.named("embedders", "flagembedding").load("all-MiniLM-L6-v2", Settings())


@pytest.mark.slow
def test_packaged_model_asks_questions_the_filter_keeps(embedder):
    generator = load_generator("smollm2")
    raw = generator.questions(PASSAGE, 4)
    assert len(raw) == 4
    assert generator.questions(PASSAGE, 4) == raw  # seeded from the chunk: reproducible versions
    kept = [q for q in judge_questions(embedder, PASSAGE, raw, min_score=0.5, n=4) if q.kept]
    assert kept, raw
    assert all(q.text.endswith("?") and 0.5 <= q.score <= 1 for q in kept)
    assert any("sensor" in q.text.lower() or "recalibrat" in q.text.lower() for q in kept)


@pytest.mark.slow
def test_llamacpp_runs_the_packaged_model_with_parallel_slots(embedder):
    """The GGUF file on llama.cpp (xllamacpp): a passage's candidates decoded together in parallel
    slots; the same passage gets the same candidates, whatever was asked before it."""
    from kbbuild.enrich.questions.llamacpp import LlamaCppOptions, load_llamacpp
    from kbbuild.enrich.questions.plugin import gguf_file

    generator = load_llamacpp(gguf_file("smollm2"), LlamaCppOptions(threads=2, slots=4))
    other = "Fuel is sold at berth four between eight and five on weekdays, and never during a storm warning."
    raw = generator.questions([PASSAGE, other], 4)
    assert [len(candidates) for candidates in raw] == [4, 4]
    assert all("\n" not in candidate for candidates in raw for candidate in candidates)  # stopped at a newline
    assert generator.questions([other, PASSAGE], 4) == raw[::-1]
    assert generator.questions([PASSAGE], 6)[0][:4] == raw[0]  # more candidates than slots: two requests
    kept = [q for q in judge_questions(embedder, PASSAGE, raw[0], min_score=0.5, n=4) if q.kept]
    assert kept, raw
    assert any("sensor" in q.text.lower() or "calibrat" in q.text.lower() for q in kept)


def test_llamacpp_refuses_a_model_that_is_not_gguf(tmp_path, cli):
    from .conftest import SAMPLES

    result = cli(
        "ingest",
        SAMPLES,
        "--kb",
        tmp_path / "kb",
        "--questions",
        "2",
        "--question-generator",
        "llamacpp",
        "--question-model",
        "doc2query/msmarco-t5-base-v1",
    )
    assert result.exit_code == 2
    refusal = "question generator 'llamacpp' cannot run: 'doc2query/msmarco-t5-base-v1' is not a GGUF model"
    assert refusal in result.output
    assert not (tmp_path / "kb" / "versions").exists()


def test_filter_drops_off_topic_copied_duplicate_and_non_questions(embedder):
    candidates = [
        "How often must the NW-300 pressure sensor be recalibrated?",
        "How often must the NW-300 pressure sensor be recalibrated ?",  # duplicate
        "What is the capital of France?",  # off-topic
        "The NW-300 pressure sensor must be recalibrated every 90 days?",  # copies the passage
        "Use the calibration kit CK-2",  # not a question
    ]
    judged = judge_questions(embedder, PASSAGE, candidates, min_score=0.3, n=3)
    assert [(q.text, q.dropped) for q in judged] == [
        ("How often must the NW-300 pressure sensor be recalibrated?", ""),
        ("How often must the NW-300 pressure sensor be recalibrated ?", "duplicate"),
        ("What is the capital of France?", "low score"),
        ("The NW-300 pressure sensor must be recalibrated every 90 days?", "copies the passage"),
        ("Use the calibration kit CK-2", "not a question"),
    ]
    assert judged[0].score > 0.5


def test_question_form_and_language_rules(embedder):
    assert looks_like_question("出差结束后多少天内必须提交报销申请？")
    assert not looks_like_question("上次的出差比时时间更快。么！福版航")  # garbled, no question mark
    assert not looks_like_question("What is this\ufffd?")
    assert language("员工出差优先乘坐高铁") == "zh" and language(PASSAGE) == "en"
    # Traditional Chinese question words count too (Traditional filings are first-class).
    assert looks_like_question("出差結束後多少天內必須提交報銷申請？")
    assert looks_like_question("住院日額保險金為何不給付？") and looks_like_question("這份合約什麼時候生效？")
    assert not looks_like_question("本公司按住院日數給付住院日額保險金。")
    from kbbuild.enrich.questions.filtering import without_preamble

    assert without_preamble("What a perceptive question! How often must it be recalibrated?") == (
        "How often must it be recalibrated?"
    )
    assert without_preamble("What is the U.S. policy?") == "What is the U.S. policy?"
    assert without_preamble("好問題！多久要校正一次？") == "多久要校正一次？"
    assert [q.kept for q in judge_questions(embedder, PASSAGE, ["", "  ", "Why?"], min_score=-1, n=3)] == [False]


@pytest.mark.slow
def test_ingest_with_questions_stores_them_versioned_and_query_uses_them(tmp_path, cli):
    import csv
    import json
    import shutil

    import jsonschema
    import lancedb

    from kbbuild.store.kb import KB

    from .conftest import ROOT, SAMPLES

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "harbor_q3_2026_results.pdf", docs)
    kb = tmp_path / "kb"
    result = cli("ingest", docs, "--kb", kb, "--questions", "2", "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)["counts"]
    assert counts["questions_generated"] > counts["questions_kept"] > 0
    manifest = KB.open(kb).manifest()
    assert set(manifest.table_versions) == {"chunks", "questions"}
    assert manifest.config["questions"]["generator"] == "llamacpp" and manifest.config["questions"]["n"] == 2
    db = lancedb.connect(str(kb / "lancedb"))
    judged = db.open_table("questions").search().limit(100).to_list()
    assert len(judged) > counts["questions_kept"]  # dropped candidates are on record too, with the reason
    assert {q["dropped"] for q in judged if not q["kept"]} <= {
        "not a question",
        "copies the passage",
        "duplicate",
        "low score",
        "beyond n",
    }
    questions = [q for q in judged if q["kept"]]
    chunk_ids = {row["id"] for row in db.open_table("chunks").search().select(["id"]).limit(100).to_list()}
    assert len(questions) == counts["questions_kept"]
    assert all(q["chunk_id"] in chunk_ids and q["score"] >= 0.35 and q["kb_version"] == 1 for q in questions)
    per_chunk: dict[str, int] = {}
    for q in questions:
        per_chunk[q["chunk_id"]] = per_chunk.get(q["chunk_id"], 0) + 1
    assert max(per_chunk.values()) <= 2
    # Asking one of the stored questions finds its chunk, with the question shown.
    asked = questions[0]
    hits = json.loads(cli("query", asked["text"], "--kb", kb, "-k", "3", "--json").output)
    assert hits[0]["chunk_id"] == asked["chunk_id"] and hits[0]["matched_question"] == asked["text"]
    # FAQ pairs for Q&A services: each question with the chunk that answers it.
    faq = tmp_path / "faq.jsonl"
    assert cli("export", faq, "--kb", kb, "--format", "faq").exit_code == 0
    pairs = [json.loads(line) for line in faq.read_text().splitlines()]
    assert len(pairs) == len(questions)
    texts = {row["id"]: row["text"] for row in db.open_table("chunks").search().limit(100).to_list()}
    assert all(p["answer"] == texts[p["chunk_id"]] and p["source"] == "harbor_q3_2026_results.pdf" for p in pairs)
    faq_schema = json.loads((ROOT / "schemas" / "faq-pair.schema.json").read_text(encoding="utf-8"))
    for pair in pairs:
        jsonschema.validate(pair, faq_schema)
    faq_csv = tmp_path / "faq.csv"
    assert cli("export", faq_csv, "--kb", kb, "--format", "faq").exit_code == 0
    with faq_csv.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["question"] for row in rows] == [p["question"] for p in pairs]
    assert all(row["pages"] == ",".join(map(str, p["pages"])) for row, p in zip(rows, pairs, strict=True))
    # Unchanged on re-ingest: nothing is generated again, the questions stay.
    again = json.loads(cli("ingest", docs, "--kb", kb, "--questions", "2", "--json").output)
    assert again["counts"]["questions_generated"] == 0 and again["counts"]["files_unchanged"] == 1
    assert KB.open(kb).manifest().table_versions["questions"] == manifest.table_versions["questions"]


def test_a_generator_that_cannot_run_refuses_the_ingest(tmp_path, cli):
    from .conftest import SAMPLES

    result = cli("ingest", SAMPLES, "--kb", tmp_path / "kb", "--questions", "2", "--question-generator", "openai")
    assert result.exit_code == 2
    assert "question generator 'openai' cannot run: [questions] base_url is not set" in result.output
    assert not (tmp_path / "kb" / "versions").exists() or not any((tmp_path / "kb" / "versions").iterdir())


@pytest.mark.slow
def test_changed_file_keeps_the_questions_of_its_unchanged_chunks(tmp_path):
    """The cache key is the chunk id (file path + text) and the generator: when a report grows by a
    page, only the new chunks are sent to the generator."""
    import lancedb

    from kbbuild import ingest

    from .conftest import quiet_settings
    from .pdfmaker import running_furniture_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    settings = quiet_settings(max_tokens=24, min_tokens=0)
    settings.questions.generator = "llamacpp"
    settings.questions.n = 2
    running_furniture_pdf(docs / "report.pdf", pages=3)

    def chunk_ids() -> set[str]:
        db = lancedb.connect(str(tmp_path / "kb" / "lancedb"))  # only once the KB exists
        return {r["id"] for r in db.open_table("chunks").search().select(["id"]).limit(500).to_list()}

    first = ingest(docs, tmp_path / "kb", settings)
    before = chunk_ids()
    assert first.counts.questions_generated > 0 and first.counts.questions_reused == 0
    running_furniture_pdf(docs / "report.pdf", pages=4)  # same three pages, one more
    second = ingest(docs, tmp_path / "kb", settings)
    assert second.files[0].status.value == "ingested"
    same = before & chunk_ids()
    assert len(same) >= 3 and second.counts.questions_reused == len(same)
    per_chunk = second.counts.questions_generated / max(len(chunk_ids() - same), 1)
    assert per_chunk == settings.questions.candidates  # only the new chunks were asked
    stored = (
        lancedb.connect(str(tmp_path / "kb" / "lancedb"))
        .open_table("questions")
        .search()
        .select(["chunk_id", "kb_version"])
        .limit(500)
        .to_list()
    )
    assert stored and all(r["chunk_id"] in chunk_ids() and r["kb_version"] == 2 for r in stored)


def test_prompts_show_an_example_in_the_passages_script_and_answers_lose_chat_tokens():
    from kbbuild.enrich.questions.prompts import completion_prompt, first_line, one_shot_messages, script

    hant = "被保險人於本契約有效期間內因疾病住院診療時，本公司按住院日數給付住院日額保險金。"
    hans = "员工出差优先乘坐高铁二等座，单程超过六小时可以申请乘坐飞机经济舱。"
    assert (script(hant), script(hans), script(PASSAGE)) == ("zh-Hant", "zh", "en")
    assert "出差結束後" in one_shot_messages(hant)[1]["content"]  # a Traditional example for a Traditional chunk
    assert "出差结束后" in one_shot_messages(hans)[1]["content"]
    assert completion_prompt(hant).endswith(f"段落：{hant}\n問題：")  # a base model continues the label
    assert first_line("住院日數如何計算？<|im_end|>\nmore") == "住院日數如何計算？"
    assert first_line("How long?<end_of_turn>") == "How long?"


@pytest.mark.slow
def test_the_packaged_chinese_model_writes_chinese_questions(embedder):
    """Gemma 3 270M (opt-in) is a base model: it gets a completion prompt, not ChatML it does not
    know, and writes Chinese candidates for a Chinese chunk, reproducibly."""
    from kbbuild.enrich.questions.llamacpp import LlamaCppOptions, has_chat_template, load_llamacpp
    from kbbuild.enrich.questions.plugin import gguf_file

    path = gguf_file("gemma3")
    assert path.name == "gemma-3-270m-q4_k_m.gguf" and not has_chat_template(path)
    generator = load_llamacpp(path, LlamaCppOptions(threads=2, slots=4, chat=False))
    passage = "被保險人於契約有效期間內因疾病住院時，本公司按住院日數給付住院日額保險金，每次住院以三百六十五日為限。"
    raw = generator.questions([passage], 4)[0]
    assert len(raw) == 4 and generator.questions([passage], 4)[0] == raw
    assert all("<|" not in candidate and "\n" not in candidate for candidate in raw)
    chinese = [c for c in raw if sum("\u4e00" <= ch <= "\u9fff" for ch in c) > len(c) / 2]
    assert len(chinese) >= 3, raw


def _bilingual_docs(tmp_path, chinese: str):
    """A folder with one Chinese and one English Markdown policy."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "policy_zh.md").write_text(chinese, encoding="utf-8")
    (docs / "policy_en.md").write_text(
        "# Travel rules\n\nStaff travel second class by train; a trip over six hours may be flown in economy "
        "with approval three days ahead.\n",
        encoding="utf-8",
    )
    return docs


@pytest.mark.slow
def test_chinese_chunks_go_to_the_chinese_model(tmp_path, cli):
    """With [questions] model_zh, each chunk goes to the model of its language: nothing is left out,
    and the questions are labelled with both models (a change of either asks again)."""
    import json

    import lancedb

    docs = _bilingual_docs(
        tmp_path,
        "# 住院給付\n\n被保險人因疾病住院診療時，本公司按住院日數給付住院日額保險金，每次住院以三百六十五日為限。\n",
    )
    args = ("--questions", "2", "--question-model-zh", "gemma3", "--json", "--no-progress")
    report = json.loads(cli("ingest", docs, "--kb", tmp_path / "kb", *args).output)
    assert not [n for n in report["notes"] if n.startswith("questions:")]
    assert report["counts"]["questions_generated"] == 10  # five candidates for each chunk
    db = lancedb.connect(str(tmp_path / "kb" / "lancedb"))
    rows = db.open_table("questions").search().select(["source", "text", "generator"]).limit(100).to_list()
    assert {row["generator"] for row in rows} == {"llamacpp:smollm2+zh:gemma3"}
    zh = [row["text"] for row in rows if row["source"] == "policy_zh.md"]
    assert len(zh) == 5 and sum(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in zh) >= 3, zh
    [share] = [n for n in report["notes"] if n.startswith("questions kept")]
    assert "Chinese" in share and "English" in share


@pytest.mark.slow
def test_chunks_in_a_language_the_model_cannot_write_are_not_sent_to_it(tmp_path, cli):
    """The packaged model writes English only: Chinese chunks get no candidates (and cost nothing),
    and the run's notes say how many were left out and why."""
    import json

    import lancedb

    docs = _bilingual_docs(
        tmp_path, "# 差旅规定\n\n员工出差优先乘坐高铁二等座，单程超过六小时可以申请乘坐飞机经济舱，并须提前三天报批。\n"
    )
    result = cli("ingest", docs, "--kb", tmp_path / "kb", "--questions", "2", "--json", "--no-progress")
    report = json.loads(result.output)
    note = [n for n in report["notes"] if n.startswith("questions:")]
    assert note == [
        "questions: 1 Chinese chunks were not sent to llamacpp:smollm2, which writes English questions only "
        '(set [questions] model_zh = "gemma3" for Chinese, or model to one that writes their language)'
    ]
    db = lancedb.connect(str(tmp_path / "kb" / "lancedb"))
    asked = {row["source"] for row in db.open_table("questions").search().select(["source"]).limit(100).to_list()}
    assert asked == {"policy_en.md"}
    assert report["counts"]["questions_generated"] == 5  # the English chunk's candidates, nothing else
    kept = report["counts"]["questions_kept"]
    [share] = [n for n in report["notes"] if n.startswith("questions kept")]
    assert share == f"questions kept by the filter, per chunk language: English {kept / 5:.0%} ({kept} of 5)"


def _held_stage(**options):
    """A question stage whose generator (a plugin, registered as a third party's would be) answers
    only once ``release`` is set, and records the passages it was sent."""
    import threading

    from kbbuild.hookspecs import hookimpl
    from kbbuild.pipeline.questions import QuestionStage
    from kbbuild.providers import Questioner, QuestionGenerator

    release = threading.Event()
    seen: list[str] = []

    class Held(Questioner):
        def questions(self, passages, n):
            seen.extend(passages)
            assert release.wait(30)
            return [[f"How often must the {p.split()[1]} sensor be recalibrated?"] * n for p in passages]

    class HeldQuestions(QuestionGenerator):
        name = "held"
        version = "1"

        def load(self, settings):
            return Held()

    class Plugin:
        @hookimpl
        def kbbuild_register_question_generators(self, register):
            register(HeldQuestions())

    registry = Registry.from_plugin_manager(make_plugin_manager((), (Plugin(),)))
    settings = Settings()
    settings.questions.generator, settings.questions.n, settings.questions.candidates = "held", 1, 1
    for key, value in options.items():
        setattr(settings.questions, key, value)
    stage = QuestionStage(registry, settings)
    stage.start()
    return stage, release, seen


def _chunk(source: str, text: str):
    from kbbuild.records import Chunk

    return Chunk(
        id=Chunk.make_id(source, text, 0), source=source, source_sha256="-", chunk_index=0, text=text, n_tokens=12
    )


FIRST = "The NW-300 sensor must be recalibrated every 90 days."
SECOND = "The NW-400 sensor must be recalibrated every 30 days."


def test_generation_runs_beside_the_driver_and_files_come_back_in_plan_order(embedder):
    """The generator works on its own thread: handing it a file returns at once while it is busy,
    later files queue behind it, and they come back in the order they were handed over, each with its
    own questions (the driver meanwhile parses, embeds and writes other files)."""
    stage, release, seen = _held_stage()
    assert list(stage.submit("a.md", [_chunk("a.md", FIRST)], embedder)) == []  # busy: nothing back yet
    assert list(stage.submit("b.md", [_chunk("b.md", SECOND)], embedder)) == []  # the driver did not wait
    release.set()
    back = list(stage.drain())
    stage.close()
    assert [item for item, _ in back] == ["a.md", "b.md"]
    assert [[q.text for q in asked.judged] for _, asked in back] == [
        ["How often must the NW-300 sensor be recalibrated?"],
        ["How often must the NW-400 sensor be recalibrated?"],
    ]
    assert seen == [FIRST, SECOND]


def test_a_run_can_ask_for_a_few_chunks_only(embedder):
    """[questions] max_chunks (make demo's taste): the first chunks in plan order are asked, the rest
    get none, and the run's notes say how many and why."""
    stage, release, seen = _held_stage(max_chunks=1)
    release.set()
    back = dict(stage.submit("a.md", [_chunk("a.md", FIRST)], embedder))
    back.update(stage.submit("b.md", [_chunk("b.md", SECOND)], embedder))  # a.md may be back by now
    back.update(stage.drain())
    stage.close()
    assert seen == [FIRST] and back["b.md"].judged == [] and len(back["a.md"].judged) == 1
    assert stage.limit_note() == (
        "questions: 1 chunks got none, over this run's limit of 1 chunks ([questions] max_chunks); "
        "they are asked when their file changes or with --full"
    )
