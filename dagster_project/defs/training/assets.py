"""Per-tenant training assets: synthetic QA sets (and, downstream, adapters)."""

from pathlib import Path

import dagster as dg

from dagster_project.defs.automation.retries import NETWORK_RETRY
from dagster_project.defs.training.partitions import TENANTS, tenant_check
from dagster_project.defs.training.resources import QAGenerator
from dagster_project.resources import KCSettings, Warehouse
from training.config import natural_config, natural_plan, synthesis_config
from training.synthesis import synthesis_checks, synthesize_tenant


@dg.asset(partitions_def=TENANTS, group_name="training", kinds={"duckdb", "parquet"},
          retry_policy=NETWORK_RETRY,  # a configured teacher LLM is reached over HTTP
          deps=[dg.AssetKey(["marts", "chunks_for_training"]),
                dg.AssetKey(["marts", "chunks_for_index"])],
          check_specs=[tenant_check("drop_rate_under_threshold", "qa_dataset", blocking=True),
                       tenant_check("natural_question_yield", "qa_dataset")])
def qa_dataset(context: dg.AssetExecutionContext, kc_settings: KCSettings, warehouse: Warehouse,
               qa_generator: QAGenerator):
    """Synthesize QA pairs and study notes from the tenant's static chunks (cached per chunk),
    with questions written by a model where `training.natural` is on."""
    tenant = context.partition_key
    settings = kc_settings.load()
    config, natural = synthesis_config(settings), natural_config(settings)

    def progress(done: int, total: int, chunk_id: str) -> None:
        if done == total or done % 50 == 0:
            context.log.info(f"{tenant}: {done}/{total} chunks ({chunk_id})")

    with warehouse.connect() as con:
        report = synthesize_tenant(con, tenant, settings.datasets_path, config,
                                   qa_generator.get(), progress, natural_plan(settings))
    metadata = {**report.metadata(), "dataset_dir": str(Path(settings.datasets_path) / tenant)}
    yield dg.MaterializeResult(metadata={k: dg.MetadataValue.json(v) if isinstance(v, dict)
                                         else v for k, v in metadata.items()})
    checks = synthesis_checks(report, config.max_drop_share, natural.min_share_kept)
    for name, (passed, details) in checks.items():
        yield dg.AssetCheckResult(check_name=name, passed=passed,
                                  metadata={"details": dg.MetadataValue.json(details)})
