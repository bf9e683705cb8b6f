"""Run the asset graph in stages through Dagster, in-process: one refresh run (ingest → dbt →
index, unpartitioned), then one compile run per tenant partition (QA sets → adapters →
evaluation). Dagster runs one partitioning per run, hence the stages."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

REFRESH_GROUPS = ("ingestion", "warehouse", "index")
COMPILE_GROUPS = ("training", "evaluation")


@dataclass
class StageResult:
    name: str
    success: bool
    run_id: str
    seconds: float
    failed_steps: list[str]
    result: dg.ExecuteInProcessResult


def _materialize(defs: dg.Definitions, selection: dg.AssetSelection,
                 instance: dg.DagsterInstance, log_level: str,
                 partition_key: str | None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *(defs.asset_checks or [])], selection=selection, instance=instance,
        resources=defs.resources, partition_key=partition_key, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})


def run_stages(defs: dg.Definitions, instance: dg.DagsterInstance, tenants: list[str], *,
               refresh: bool = True, compile_tenants: bool = True, log_level: str = "INFO",
               compile_selection: dg.AssetSelection | None = None,
               on_stage: Callable[[StageResult], None] | None = None) -> list[StageResult]:
    """Run the stages in order; stop at the first that fails."""
    from dagster_project.defs.training.partitions import sync_tenant_partitions

    stages: list[tuple[str, dg.AssetSelection, str | None]] = []
    if refresh:
        stages.append(("refresh", dg.AssetSelection.groups(*REFRESH_GROUPS), None))
    if compile_tenants:
        sync_tenant_partitions(instance, tenants)
        selection = compile_selection or dg.AssetSelection.groups(*COMPILE_GROUPS)
        stages += [(f"compile {t}", selection, t) for t in tenants]
    results = []
    for name, selection, partition in stages:
        started = time.perf_counter()
        result = _materialize(defs, selection, instance, log_level, partition)
        stage = StageResult(name, result.success, result.run_id,
                            time.perf_counter() - started,
                            [e.step_key for e in result.all_events if e.is_step_failure], result)
        results.append(stage)
        if on_stage:
            on_stage(stage)
        if not result.success:
            break
    return results
