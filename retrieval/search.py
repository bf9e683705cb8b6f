"""Vector, full-text and hybrid search over a ChunkIndex, always prefiltered by access scope.

The access filter runs *before* ranking (``where(..., prefilter=True)``). Filtering after a
top-k would both leak timing and starve: a user who may read 2 chunks among 10,000 closer ones
would get no hits at all. Hybrid search fuses the vector and full-text rankings by reciprocal
rank fusion (RRF, k=60) over each leg's prefiltered candidates, keyed on chunk id.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pyarrow as pa

from retrieval.access import AccessScope, Principal, routes_filter
from retrieval.index import DISTANCE, TEXT_COLUMN, ChunkIndex

Mode = Literal["vector", "fts", "hybrid"]
MODES: frozenset[str] = frozenset({"vector", "fts", "hybrid"})
RRF_K = 60  # the constant from Cormack et al. (2009), also LanceDB's RRFReranker default
HIT_COLUMNS = ["chunk_id", "document_id", "tenant", "route", "source_id", "path", "section",
               "text"]


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk. ``score``: higher is better; its scale depends on the mode
    (cosine similarity, BM25, or RRF)."""

    chunk_id: str
    document_id: str
    tenant: str
    route: str
    source_id: str
    path: str | None
    section: str | None
    text: str
    score: float


def search(
    index: ChunkIndex,
    query: str,
    scope: AccessScope | Principal,
    k: int = 5,
    mode: Mode = "vector",
    routes: Iterable[str] | None = None,
    candidates: int | None = None,
) -> list[Hit]:
    """The ``k`` best chunks for ``query`` that ``scope`` may read, best first.

    ``routes`` restricts to some routes (e.g. ``{"volatile"}`` for the hybrid arm).
    ``candidates``: hybrid only, how many hits each leg contributes before fusion
    (default ``max(k, 20)``).
    """
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: expected one of {sorted(MODES)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("the query is empty")
    access = scope.scope if isinstance(scope, Principal) else scope
    if not isinstance(access, AccessScope):
        raise TypeError(f"scope must be an AccessScope or Principal, got {type(scope).__name__}")
    if access.is_empty or index.count_rows() == 0:
        return []
    where = access.to_filter()
    route_clause = routes_filter(routes)
    if route_clause:
        where = f"({where}) AND {route_clause}"

    if mode == "vector":
        return _vector_hits(index, query, where, k)
    if mode == "fts":
        return _fts_hits(index, query, where, k)
    depth = candidates or max(k, 20)
    # The two legs wait on LanceDB's Rust code, which releases the GIL: run them side by side.
    vector_leg = _legs().submit(_vector_hits, index, query, where, depth)
    fts = _fts_hits(index, query, where, depth)
    return rrf_fuse([vector_leg.result(), fts], k)


@cache
def _legs() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="kc-hybrid")


def _vector_hits(index: ChunkIndex, query: str, where: str, k: int) -> list[Hit]:
    builder = (index.table.search(index.embedder.embed_query(query), vector_column_name="vector")
               .distance_type(DISTANCE)
               .where(where, prefilter=True)
               .select([*HIT_COLUMNS, "_distance"])
               .limit(k))
    params = index.vector_query_params()
    if "nprobes" in params:
        builder = builder.nprobes(params["nprobes"])
    if "refine_factor" in params:
        builder = builder.refine_factor(params["refine_factor"])
    if "ef" in params:
        builder = builder.ef(params["ef"])
    table = builder.to_arrow()
    # cosine distance is 1 - cosine similarity; report the similarity.
    return _hits(table, [1.0 - d for d in table.column("_distance").to_pylist()])


def _fts_hits(index: ChunkIndex, query: str, where: str, k: int) -> list[Hit]:
    if not index.has_fts_index():
        raise RuntimeError(
            f"table {index.table_name!r} has rows but no full-text index: run ChunkIndex.sync()"
        )
    table = (index.table.search(query, query_type="fts", fts_columns=TEXT_COLUMN)
             .where(where, prefilter=True)
             .select([*HIT_COLUMNS, "_score"])
             .limit(k)
             .to_arrow())
    return _hits(table, table.column("_score").to_pylist())


def _hits(table: pa.Table, scores: list[Any]) -> list[Hit]:
    rows = table.select(HIT_COLUMNS).to_pylist()
    return [Hit(**row, score=float(score)) for row, score in zip(rows, scores, strict=True)]


def rrf_fuse(rankings: list[list[Hit]], k: int, rrf_k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (rrf_k + rank(d)).

    Ties are broken by chunk id so the order is deterministic.
    """
    scores: dict[str, float] = {}
    first_seen: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (rrf_k + rank)
            first_seen.setdefault(hit.chunk_id, hit)
    order = sorted(scores, key=lambda cid: (-scores[cid], cid))[:k]
    return [_with_score(first_seen[cid], scores[cid]) for cid in order]


def _with_score(hit: Hit, score: float) -> Hit:
    return Hit(**{**hit.__dict__, "score": score})
