"""The LanceDB index of every indexable chunk (volatile, static and overflow)."""

import dagster as dg

from dagster_project.defs.automation.freshness import RAG_INDEX_FRESHNESS
from dagster_project.defs.index.resources import EmbedderResource
from dagster_project.resources import KCSettings, Warehouse
from retrieval.index import ChunkIndex
from retrieval.schema import read_chunks_for_index


@dg.asset(key="rag_index", group_name="index", kinds={"lancedb"},
          deps=[dg.AssetKey(["marts", "chunks_for_index"])],
          freshness_policy=RAG_INDEX_FRESHNESS)
def rag_index(kc_settings: KCSettings, warehouse: Warehouse,
              embedder: EmbedderResource) -> dg.MaterializeResult:
    """Embed new or changed chunks of marts.chunks_for_index into LanceDB; delete vanished ones."""
    settings = kc_settings.load()
    with warehouse.connect(read_only=True) as con:
        rows = read_chunks_for_index(con)
    index = ChunkIndex(settings.index_path, embedder.get())
    report = index.sync(rows)
    routes = {}
    for route in rows.column("route").to_pylist():
        routes[route] = routes.get(route, 0) + 1
    return dg.MaterializeResult(metadata={
        **report.as_metadata(), "rows_per_route": dg.MetadataValue.json(routes),
        "path": str(settings.index_path)})
