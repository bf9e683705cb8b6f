"""Run the asset graph in stages through Dagster's jobs, in-process: one `refresh_index` run
(ingest → dbt → index, unpartitioned), then one `compile_knowledge` run per tenant partition
(QA sets → adapters → evaluation). Dagster runs one partitioning per run, hence the stages.

With `parallel_tenants` > 1 the compile runs in three steps: QA synthesis (the warehouse
writer) tenant after tenant; then the shared base model, materialised once; then the training
and evaluation runs of several tenants side by side. Side-by-side runs
each get their own process (one torch thread each: on 2 cores two trainings take the time of one).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from ingestion.run_failures import record_failure
from settings.config import Settings

REFRESH_JOB = "refresh_index"  # the ingestion, warehouse and index groups
COMPILE_JOB = "compile_knowledge"  # the training and evaluation groups, one tenant a run
SYNTHESIS_ASSETS = ("qa_dataset",)  # writes the warehouse: one tenant at a time
SHARED_MODEL_ASSETS = ("base_model",)  # materialised once, shared by the tenants


@dataclass
class StageResult:
    name: str
    success: bool
    run_id: str
    seconds: float
    failed_steps: list[str]
    result: dg.ExecuteInProcessResult | None  # None for a run made in a worker process


def _execute(defs: dg.Definitions, job: str, selection: dg.AssetSelection | None,
             instance: dg.DagsterInstance, log_level: str,
             partition_key: str | None) -> dg.ExecuteInProcessResult:
    """Run the named job (`refresh_index`, `compile_knowledge`), or the part of it that
    `selection` picks, so the runs list says which job ran (`dg.materialize` would record
    every run as `__ephemeral_asset_job__`). The checks of the selected assets run too."""
    job_def = defs.resolve_job_def(job)
    keys = None
    if selection is not None:
        keys = sorted(selection.resolve(defs.resolve_asset_graph())
                      & set(job_def.asset_layer.selected_asset_keys))
    return job_def.execute_in_process(
        instance=instance, partition_key=partition_key, raise_on_error=False,
        asset_selection=keys,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})


def _stage(name: str, started: float, result: dg.ExecuteInProcessResult) -> StageResult:
    return StageResult(name, result.success, result.run_id, time.perf_counter() - started,
                       [e.step_key for e in result.all_events if e.is_step_failure], result)


def _run_in_worker(name: str, assets: tuple[str, ...] | None, partitions: list[str],
                   log_level: str) -> tuple[bool, str, float, list[str]]:
    """Materialize `assets` (None: the tenant's training and evaluation, less the synthesis and
    shared models already run) for each partition in turn, in a fresh spawned process: the
    instance and the project settings come from DAGSTER_HOME and KC_CONFIG in the environment."""
    from dagster_project.definitions import defs
    from dagster_project.defs.training.partitions import sync_tenant_partitions

    started = time.perf_counter()
    selection = (dg.AssetSelection.assets(*assets) if assets else
                 dg.AssetSelection.all()
                 - dg.AssetSelection.assets(*SYNTHESIS_ASSETS, *SHARED_MODEL_ASSETS))
    with dg.DagsterInstance.get() as instance:
        sync_tenant_partitions(instance, partitions)
        for partition in partitions:
            stage = _stage(name, started, _execute(defs, COMPILE_JOB, selection, instance,
                                                   log_level, partition))
            if not stage.success:
                break
    return stage.success, stage.run_id, time.perf_counter() - started, stage.failed_steps


def run_stages(defs: dg.Definitions, instance: dg.DagsterInstance, tenants: list[str], *,
               refresh: bool = True, compile_tenants: bool = True, log_level: str = "INFO",
               compile_selection: dg.AssetSelection | None = None,
               parallel_tenants: int = 1,
               on_stage: Callable[[StageResult], None] | None = None) -> list[StageResult]:
    """Run the stages in order; stop at the first that fails."""
    from dagster_project.defs.training.partitions import sync_tenant_partitions

    side_by_side = (compile_tenants and compile_selection is None and parallel_tenants > 1
                    and len(tenants) > 1)
    stages: list[tuple[str, str, dg.AssetSelection | None, str | None]] = []
    if refresh:
        stages.append(("refresh", REFRESH_JOB, None, None))
    if compile_tenants:
        sync_tenant_partitions(instance, tenants)
        if side_by_side:
            stages += [(f"synthesize {t}", COMPILE_JOB,
                        dg.AssetSelection.assets(*SYNTHESIS_ASSETS), t) for t in tenants]
        else:
            stages += [(f"compile {t}", COMPILE_JOB, compile_selection, t) for t in tenants]
    results = []
    for name, job, selection, partition in stages:
        started = time.perf_counter()
        stage = _stage(name, started,
                       _execute(defs, job, selection, instance, log_level, partition))
        results.append(stage)
        if on_stage:
            on_stage(stage)
        if not stage.success:
            return results
    if side_by_side:
        for jobs in ([(name, (name,), tenants) for name in SHARED_MODEL_ASSETS],
                     [(f"compile {t}", None, [t]) for t in tenants]):
            results += _side_by_side(jobs, parallel_tenants, log_level, on_stage)
            if not all(r.success for r in results):
                break
    return results


def _side_by_side(jobs: list[tuple[str, tuple[str, ...] | None, list[str]]], workers: int,
                  log_level: str,
                  on_stage: Callable[[StageResult], None] | None) -> list[StageResult]:
    results = []
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)),
                                                mp_context=context) as pool:
        futures = {pool.submit(_run_in_worker, name, assets, partitions, log_level): name
                   for name, assets, partitions in jobs}
        for future in concurrent.futures.as_completed(futures):
            success, run_id, seconds, failed = future.result()
            stage = StageResult(futures[future], success, run_id, seconds, failed, None)
            results.append(stage)
            if on_stage:
                on_stage(stage)
    return results


def run_all(settings: Settings, *, log_level: str = "INFO", compile_tenants: bool = True,
            on_stage: Callable[[StageResult], None] | None = None) -> list[StageResult]:
    """`kc run`: the refresh, then each tenant's compile, on the instance at $DAGSTER_HOME
    (call `runtime.prepare` first). In-process runs bypass the run-failure sensor, so a failed
    run is recorded here, where `kc status` looks."""
    from dagster_project.definitions import defs
    from dagster_project.defs.automation.sensors import failure_for_run

    with dg.DagsterInstance.get() as instance:
        stages = run_stages(defs, instance, settings.tenants, log_level=log_level,
                            compile_tenants=compile_tenants,
                            parallel_tenants=settings.training.parallel_tenants,
                            on_stage=on_stage)
        failed = [s for s in stages if not s.success]
        if failed:
            record_failure(failure_for_run(instance, failed[0].run_id), settings.kc_home)
    return stages


def evaluate_all(settings: Settings) -> list[StageResult]:
    """`kc eval`: each tenant's `evaluation_report`, on its current compile."""
    from dagster_project.definitions import defs

    with dg.DagsterInstance.get() as instance:
        return run_stages(defs, instance, settings.tenants, refresh=False,
                          compile_selection=dg.AssetSelection.assets("evaluation_report"),
                          log_level="WARNING")
