"""Sensors: refresh when a source changes; record every failed run where `kc status` reads it."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from dagster_project.defs.automation.jobs import refresh_index
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.resources import KCSettings, Warehouse
from ingestion.config import ingestion_config, source_specs
from ingestion.fingerprints import (
    DEFAULT_MAX_FILES,
    changed_sources,
    fingerprints_key,
    source_fingerprint,
)
from ingestion.run_failures import RunFailure, record_failure

SOURCE_POLL_SECONDS = 120  # a walk over a large folder takes seconds: do not run it every 30
MAX_TAG_CHARS = 200


class SourceWatch(dg.ConfigurableResource):
    """How the source-change sensor looks at sources."""

    remote_git: bool = False  # `git ls-remote` for URL sources: network, so off by default
    max_files: int = DEFAULT_MAX_FILES  # per documents folder; past it, changes go unseen
    git_timeout_s: float = 20.0


@dg.sensor(job=refresh_index, minimum_interval_seconds=SOURCE_POLL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING)
def source_change_sensor(context: dg.SensorEvaluationContext, kc_settings: KCSettings,
                         source_watch: SourceWatch):
    """Refresh the index when a source in kc.yaml changed (git commit, file added, edited or
    removed). The first evaluation records a baseline and requests nothing. New tenants in
    kc.yaml get their training partition."""
    settings = kc_settings.load()
    cfg = ingestion_config(settings)
    current = [source_fingerprint(spec, cfg, remote_git=source_watch.remote_git,
                                  max_files=source_watch.max_files,
                                  git_timeout_s=source_watch.git_timeout_s)
               for spec in source_specs(settings)]
    for fp in current:
        if fp.note:
            context.log.warning(f"source {fp.source}: {fp.note}")
    previous = json.loads(context.cursor) if context.cursor else None
    cursor, changed = changed_sources(previous or {}, current)
    result = {"cursor": json.dumps(cursor, sort_keys=True),
              "dynamic_partitions_requests": _new_tenant_partitions(context, settings.tenants)}
    if previous is None:
        return dg.SensorResult(skip_reason=f"recorded a baseline for {len(cursor)} of "
                               f"{len(current)} sources; changes from now on trigger "
                               "refresh_index", **result)
    if not changed:
        return dg.SensorResult(skip_reason=f"no change in {len(cursor)} sources", **result)
    context.log.info(f"sources changed: {', '.join(changed)}")
    listed = ",".join(changed)
    if len(listed) > MAX_TAG_CHARS:
        listed = listed[:MAX_TAG_CHARS - 12].rsplit(",", 1)[0] + ",(and more)"
    request = dg.RunRequest(run_key=fingerprints_key(cursor),
                            tags={"kc/trigger": "source_change", "kc/changed_sources": listed})
    return dg.SensorResult(run_requests=[request], **result)


def _new_tenant_partitions(context: dg.SensorEvaluationContext,
                           tenants: list[str]) -> list[dg.AddDynamicPartitionsRequest]:
    """Tenants added to kc.yaml get their training partition now, before the next compile."""
    existing = set(context.instance.get_dynamic_partitions(TENANTS.name))
    new = [t for t in tenants if t not in existing]
    return [TENANTS.build_add_request(new)] if new else []


def failure_for_run(instance: dg.DagsterInstance, run_id: str) -> RunFailure:
    """The record of a failed run, from its events: the failed steps, the run's failure message
    and the innermost error of the first failed step. Works for runs of any launcher,
    `execute_in_process` included (`kc run` can record its own failures with it)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ValueError(f"no run {run_id} in the Dagster instance at {instance.root_directory}")
    records = instance.all_logs(run_id, of_type={dg.DagsterEventType.RUN_FAILURE,
                                                 dg.DagsterEventType.STEP_FAILURE})
    steps = [r.dagster_event for r in records
             if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE]
    ends = [r for r in records
            if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE]
    message = (ends[-1].dagster_event.message if ends else None) or "run failed"
    if steps:
        error = steps[0].event_specific_data.error  # type: ignore[union-attr]
        while error is not None and error.cause is not None:
            error = error.cause  # Dagster wraps the user's exception: show the user's
        if error is not None:
            message += f"\n{steps[0].step_key}: {error.message.strip()}"
    failed_at = datetime.fromtimestamp(ends[-1].timestamp, UTC) if ends else datetime.now(UTC)
    return RunFailure(run_id=run_id, job_name=run.job_name, failed_at=failed_at,
                      step_keys=tuple(e.step_key for e in steps if e.step_key), message=message)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def record_run_failures(context: dg.RunFailureSensorContext, warehouse: Warehouse):
    """Record every failed run in ops.run_failures (or run_failures.jsonl), for `kc status`."""
    failure = failure_for_run(context.instance, context.dagster_run.run_id)
    kc_home = Path(warehouse.path).parent  # the warehouse lives at $KC_HOME/warehouse.duckdb
    store, path = record_failure(failure, kc_home)
    if store == "warehouse":
        context.log.info(f"recorded failed run {failure.run_id} in ops.run_failures ({path})")
    else:
        context.log.warning(f"recorded failed run {failure.run_id} in {path}: the warehouse "
                            "was locked by another run or does not exist yet")
