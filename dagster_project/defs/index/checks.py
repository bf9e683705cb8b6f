"""Contracts of the index: complete, embedded, and tenant-isolated."""

import dagster as dg

from dagster_project.defs.index.resources import EmbedderResource
from dagster_project.resources import KCSettings, Warehouse
from retrieval.access import AccessScope
from retrieval.index import ChunkIndex
from retrieval.search import search


def _index(kc_settings: KCSettings, embedder: EmbedderResource) -> ChunkIndex:
    return ChunkIndex(kc_settings.load().index_path, embedder.get())


@dg.asset_check(asset="rag_index", blocking=True)
def index_matches_chunks_for_index(kc_settings: KCSettings, warehouse: Warehouse,
                                   embedder: EmbedderResource) -> dg.AssetCheckResult:
    """The index holds exactly the chunk ids of marts.chunks_for_index."""
    with warehouse.connect(read_only=True) as con:
        expected = {r[0] for r in con.execute(
            "select chunk_id from marts.chunks_for_index").fetchall()}
    table = _index(kc_settings, embedder).table
    indexed = set(table.search().select(["chunk_id"]).limit(None).to_arrow()
                  .column("chunk_id").to_pylist())
    return dg.AssetCheckResult(passed=indexed == expected, metadata={
        "expected": len(expected), "indexed": len(indexed),
        "missing": len(expected - indexed), "extra": len(indexed - expected)})


@dg.asset_check(asset="rag_index", blocking=True)
def every_chunk_has_a_vector(kc_settings: KCSettings,
                             embedder: EmbedderResource) -> dg.AssetCheckResult:
    """No row without a vector (a null or zero vector is never retrieved)."""
    arrow = _index(kc_settings, embedder).table.search().select(["vector"]).limit(None).to_arrow()
    vectors = arrow.column("vector").to_pylist()
    bad = sum(1 for v in vectors if v is None or not any(v))
    return dg.AssetCheckResult(passed=bad == 0, metadata={"rows": len(vectors),
                                                          "without_vector": bad})


@dg.asset_check(asset="rag_index", blocking=True)
def no_cross_tenant_rows(kc_settings: KCSettings,
                         embedder: EmbedderResource) -> dg.AssetCheckResult:
    """Probe: each tenant's own groups, searching every mode, see only that tenant's rows."""
    settings = kc_settings.load()
    index = _index(kc_settings, embedder)
    leaks: dict[str, int] = {}
    probes = 0
    for source in settings.sources:
        scope = AccessScope(tenants=frozenset({source.tenant}),
                            groups=frozenset(source.acl_groups))
        for mode in ("vector", "fts", "hybrid"):
            for query in ("status", "owner", "limit", "policy"):
                probes += 1
                for hit in search(index, query, scope, k=20, mode=mode):
                    if hit.tenant != source.tenant:
                        leaks[source.tenant] = leaks.get(source.tenant, 0) + 1
    return dg.AssetCheckResult(passed=not leaks, metadata={"probe_queries": probes,
                                                           "leaked_hits": leaks})
