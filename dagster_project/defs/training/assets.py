"""Per-tenant training assets: synthetic QA sets (and, downstream, adapters)."""

from pathlib import Path

import dagster as dg

from dagster_project.defs.automation.retries import NETWORK_RETRY
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.defs.training.resources import QAGenerator
from dagster_project.resources import KCSettings, Warehouse
from training.config import synthesis_config
from training.synthesis import check_drop_rate, synthesize_tenant


@dg.asset(partitions_def=TENANTS, group_name="training", kinds={"duckdb", "parquet"},
          retry_policy=NETWORK_RETRY,  # a configured teacher LLM is reached over HTTP
          deps=[dg.AssetKey(["marts", "chunks_for_training"]),
                dg.AssetKey(["marts", "chunks_for_index"])],
          check_specs=[dg.AssetCheckSpec("drop_rate_under_threshold", asset="qa_dataset",
                                         blocking=True)])
def qa_dataset(context: dg.AssetExecutionContext, kc_settings: KCSettings, warehouse: Warehouse,
               qa_generator: QAGenerator):
    """Synthesize QA pairs and study notes from the tenant's static chunks (cached per chunk)."""
    tenant = context.partition_key
    settings = kc_settings.load()
    config = synthesis_config(settings)

    def progress(done: int, total: int, chunk_id: str) -> None:
        if done == total or done % 50 == 0:
            context.log.info(f"{tenant}: {done}/{total} chunks ({chunk_id})")

    with warehouse.connect() as con:
        report = synthesize_tenant(con, tenant, settings.datasets_path, config,
                                   qa_generator.get(), progress=progress)
    data = report.to_dict()
    passed, details = check_drop_rate(report, config.max_drop_share)
    yield dg.MaterializeResult(metadata={
        "dataset_sha256": data.get("dataset_sha256", ""),
        "facts": report.facts, "pairs_by_split": dg.MetadataValue.json(report.pairs_by_split),
        "pairs_per_chunk_max": max(report.pairs_per_chunk.values(), default=0),
        "notes": report.notes, "cache_hits": report.cache_hits,
        "chunks_synthesized": report.chunks_synthesized,
        "dropped": dg.MetadataValue.json(report.dropped),
        "failed_chunks": len(report.failures), "stale_facts": report.stale_facts,
        "dataset_dir": str(Path(settings.datasets_path) / tenant)})
    yield dg.AssetCheckResult(check_name="drop_rate_under_threshold", passed=passed,
                              metadata={"details": dg.MetadataValue.json(details)})
