"""With the real MiniLM embedder: hybrid search finds an identifier that vector search misses.

The model is loaded once for the module (~1 s); everything else uses the hashing embedder.
"""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import AccessScope, ChunkIndex, SentenceTransformerEmbedder, search
from tests.retrieval.conftest import chunk

TEXTS = {
    "err-4821": "ERR-4821 | ledger export | schema drift detected; rerun the snapshot job.",
    "err-4812": "How to fix error 4812: the service rejects the request, so restart the worker "
                "and retry.",
    "generic": "Troubleshooting errors: most failures are fixed by restarting the worker process.",
    "oom": "The deploy pipeline fails with exit code 137 when the container runs out of memory.",
    "password": "To reset a user's password, open the admin console and choose Reset credentials.",
    "budget": "Error budgets: each service may fail 0.1% of requests per month before freezes.",
    "vpn": "ERR-1190 appears when the VPN client certificate has expired.",
}
QUERY = "how do I fix ERR-4821"
SCOPE = AccessScope(tenants=frozenset({"acme"}), groups=frozenset({"eng"}))


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def index(minilm: SentenceTransformerEmbedder, tmp_path_factory) -> ChunkIndex:
    index = ChunkIndex(tmp_path_factory.mktemp("minilm"), embedder=minilm)
    index.sync([chunk(cid, text) for cid, text in TEXTS.items()])
    return index


def test_minilm_embedder_is_normalised_and_counted(minilm: SentenceTransformerEmbedder) -> None:
    assert (minilm.model_id, minilm.dim) == ("sentence-transformers/all-MiniLM-L6-v2", 384)
    before = minilm.stats.texts_embedded
    docs = minilm.embed_documents(["one", "two"], batch_size=1)
    assert docs.shape == (2, 384) and minilm.stats.texts_embedded == before + 2
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(minilm.embed_query("one"), docs[0], atol=1e-5)


def test_hybrid_beats_vector_on_an_identifier_query(index: ChunkIndex) -> None:
    vector = [h.chunk_id for h in search(index, QUERY, SCOPE, k=3, mode="vector")]
    fts = [h.chunk_id for h in search(index, QUERY, SCOPE, k=3, mode="fts")]
    hybrid = [h.chunk_id for h in search(index, QUERY, SCOPE, k=3, mode="hybrid")]
    # The semantically similar "how to fix error 4812" wins on meaning alone...
    assert vector[:2] == ["err-4812", "err-4821"]
    # ...the exact token 4821 wins on BM25, and fusion keeps the right chunk first.
    assert fts[0] == "err-4821"
    assert hybrid[0] == "err-4821"
