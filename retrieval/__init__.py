"""Retrieval: embed chunks, keep them in a LanceDB index, search them within an access scope.

No dagster here: the index asset calls ``ChunkIndex.sync(read_chunks_for_index(con))`` and the
answering arms call ``search(...)``.
"""

from retrieval.access import AccessScope, Principal, validate_identifier
from retrieval.embedder import Embedder, EmbedStats, HashingEmbedder, SentenceTransformerEmbedder
from retrieval.index import DEFAULT_VECTOR_INDEX, ChunkIndex, SyncReport, VectorIndexPolicy
from retrieval.schema import ChunkRecord, chunk_record_model, read_chunks_for_index
from retrieval.search import Hit, rrf_fuse, search

__all__ = [
    "DEFAULT_VECTOR_INDEX",
    "AccessScope",
    "ChunkIndex",
    "ChunkRecord",
    "EmbedStats",
    "Embedder",
    "HashingEmbedder",
    "Hit",
    "Principal",
    "SentenceTransformerEmbedder",
    "SyncReport",
    "VectorIndexPolicy",
    "chunk_record_model",
    "read_chunks_for_index",
    "rrf_fuse",
    "search",
    "validate_identifier",
]
