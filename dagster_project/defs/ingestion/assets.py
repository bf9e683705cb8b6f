"""Ingestion assets: every configured source into the raw layer of the warehouse."""

from pathlib import Path

import dagster as dg

from dagster_project.defs.automation.retries import NETWORK_RETRY
from dagster_project.resources import KCSettings, Warehouse
from ingestion.config import ingestion_config, source_specs
from ingestion.runner import ingest_all
from ingestion.warehouse import RAW_TABLES, table_counts

# One multi-asset writes every raw table: each source is written in one transaction across
# all of them, so no single table can be materialized on its own (can_subset=False).
RAW_SPECS = [
    dg.AssetSpec(["raw", table], group_name="ingestion", kinds={"duckdb"},
                 description=f"raw.{table} in the warehouse, written by ingestion")
    for table in RAW_TABLES
]


def _progress(log: dg.DagsterLogManager):
    def for_source(name: str):
        def report(done: int, total: int, path: str) -> None:
            if done == 1 or done == total or done % 25 == 0:
                log.info(f"{name}: {done}/{total} files ({path})")
        return report
    return for_source


# Git URL sources are fetched over the network: retried with backoff.
@dg.multi_asset(specs=RAW_SPECS, can_subset=False, name="ingest_sources",
                retry_policy=NETWORK_RETRY)
def ingest_sources(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                   warehouse: Warehouse):
    """Ingest documents folders and git repositories from kc.yaml into DuckDB raw.*."""
    settings = kc_settings.load()
    reports = ingest_all(Path(warehouse.path), source_specs(settings),
                         ingestion_config(settings), home=settings.kc_home,
                         progress=_progress(context.log))
    with warehouse.connect(read_only=True) as con:
        counts = table_counts(con)
    per_source = {r.source: {k: v for k, v in r.as_dict().items() if k != "failures"}
                  for r in reports}
    failures = [f"{r.source}: {f['path']}: {f['reason']}" for r in reports for f in r.failures]
    for table in RAW_TABLES:
        metadata: dict[str, object] = {"rows": counts[table]}
        if table == "chunks":
            metadata["chunks_written"] = sum(r.chunks_written for r in reports)
            metadata["files_parsed"] = sum(r.parsed for r in reports)
            metadata["per_source"] = dg.MetadataValue.json(per_source)
        if table == "ingest_failures":
            metadata["failures"] = dg.MetadataValue.md(
                "\n".join(f"- {f}" for f in failures[:50]) or "none")
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata)
