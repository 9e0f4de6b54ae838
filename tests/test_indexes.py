"""ANN index upkeep on a real LanceDB table: trained past the threshold, extended with new rows,
retrained when they outgrow it, dropped below the threshold; approximate search finds the same
nearest rows as the exact search on clustered vectors."""

from __future__ import annotations

import lancedb
import numpy as np
import pyarrow as pa

from kbbuild.config import IndexSettings
from kbbuild.store.indexes import maintain_vector_index, vector_index

DIM = 32


def _rows(rng, n: int, start: int) -> pa.Table:
    centres = np.random.default_rng(1).normal(size=(20, DIM))
    vectors = centres[rng.integers(0, 20, size=n)] + 0.05 * rng.normal(size=(n, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return pa.table(
        {
            "id": [f"r{start + i}" for i in range(n)],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
        }
    )


def test_vector_index_lifecycle(tmp_path):
    rng = np.random.default_rng(0)
    table = lancedb.connect(str(tmp_path)).create_table("chunks", data=_rows(rng, 300, 0))
    settings = IndexSettings(ann_min_rows=500, retrain_share=0.25)
    assert maintain_vector_index(table, settings) is None and vector_index(table) is None

    table.add(_rows(rng, 300, 300))
    assert maintain_vector_index(table, settings) == "trained a IVF_HNSW_SQ index on 600 rows"
    assert vector_index(table).num_unindexed_rows == 0

    table.add(_rows(rng, 50, 600))
    assert maintain_vector_index(table, settings) == "added 50 rows to the IvfHnswSq index"
    assert vector_index(table).num_unindexed_rows == 0

    table.add(_rows(rng, 400, 650))
    assert maintain_vector_index(table, settings).startswith("trained")

    probe = _rows(np.random.default_rng(5), 20, 10_000)["vector"].to_numpy(zero_copy_only=False)
    for vector in probe:
        exact = table.search(vector).distance_type("cosine").bypass_vector_index().limit(5).to_list()
        approximate = table.search(vector).distance_type("cosine").nprobes(20).refine_factor(5).limit(5).to_list()
        assert approximate[0]["id"] == exact[0]["id"]

    table.delete("id LIKE 'r1%' OR id LIKE 'r2%' OR id LIKE 'r3%' OR id LIKE 'r4%' OR id LIKE 'r5%'")
    assert table.count_rows() < 500
    assert maintain_vector_index(table, settings).startswith("dropped")
    assert vector_index(table) is None
