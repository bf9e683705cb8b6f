"""Fixtures for the retrieval tests: chunk rows and a small index on the hashing embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retrieval import ChunkIndex, HashingEmbedder


def chunk(
    chunk_id: str,
    text: str,
    *,
    document_id: str | None = None,
    tenant: str = "acme",
    acl_groups: tuple[str, ...] = ("eng",),
    route: str = "volatile",
) -> dict[str, Any]:
    """One row shaped like ``marts.chunks_for_index``."""
    return {
        "chunk_id": chunk_id,
        "document_id": document_id or f"doc-{chunk_id}",
        "tenant": tenant,
        "acl_groups": list(acl_groups),
        "route": route,
        "source_id": f"src-{tenant}",
        "path": f"{tenant}/{document_id or chunk_id}.md",
        "section": "Intro",
        "text": text,
    }


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dim=64)


@pytest.fixture
def index(tmp_path: Path, embedder: HashingEmbedder) -> ChunkIndex:
    return ChunkIndex(tmp_path / "lancedb", embedder=embedder)
