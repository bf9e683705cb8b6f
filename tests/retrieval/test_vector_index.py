"""The ANN index rule: flat below the threshold, the policy's index above it, rebuilt on purge."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import AccessScope, ChunkIndex, HashingEmbedder, VectorIndexPolicy, search
from tests.retrieval.conftest import chunk

SCOPE = AccessScope(tenants=frozenset({"acme"}), groups=frozenset({"eng"}))


def rows(n: int) -> list[dict]:
    return [chunk(f"c{i:04d}", f"record {i} colour {i % 7} shape {i % 11} size {i % 13}")
            for i in range(n)]


@pytest.mark.parametrize("kind", ["ivf_hnsw_sq", "ivf_pq"])
def test_index_appears_above_threshold_and_is_rebuilt_after_deletion(
    tmp_path: Path, kind: str
) -> None:
    policy = VectorIndexPolicy(min_rows=400, kind=kind, rows_per_partition=200, nprobes=4,
                               refine_factor=5)
    index = ChunkIndex(tmp_path, embedder=HashingEmbedder(dim=32), vector_index=policy)

    assert index.sync(rows(300)).vector_index is None
    report = index.sync(rows(600))
    assert report.vector_index == {"ivf_hnsw_sq": "IvfHnswSq", "ivf_pq": "IvfPq"}[kind]
    assert index.vector_query_params()["nprobes"] == 4
    exact = "record 123 colour 4 shape 2 size 6"
    assert search(index, exact, SCOPE, k=3)[0].chunk_id == "c0123"

    before = {i.index_uuid for i in index.table.list_indices() if "vector" in i.columns}
    report = index.sync(rows(599))  # one deletion: the index is rebuilt, not patched
    after = {i.index_uuid for i in index.table.list_indices() if "vector" in i.columns}
    assert report.deleted == 1 and report.vector_index is not None and before != after

    assert index.sync(rows(100)).vector_index is None  # back under the threshold: flat again
    assert not index.has_vector_index()
