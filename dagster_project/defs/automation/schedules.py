"""When the jobs run. Times are UTC constants, not settings: change them here, in one place.

The refresh runs at odd hours (01:00, 03:00, ...) so that it never starts in the same minute as
the weekly compile (Sunday 02:00), and the compile starts an hour after a refresh began: on
the sample corpus a refresh takes minutes, so the compile reads a warehouse at most an hour old.
If the two do overlap, the run queue holds one back (see jobs.WAREHOUSE_CONCURRENCY_YAML).

On demand: launch ``compile_knowledge`` from the UI for one tenant partition, or as a backfill
over all of them.
"""

import dagster as dg

from dagster_project.defs.automation.jobs import compile_knowledge, refresh_index
from dagster_project.defs.training.partitions import sync_tenant_partitions
from dagster_project.resources import KCSettings

REFRESH_INDEX_CRON = "0 1-23/2 * * *"  # every two hours, at odd hours
COMPILE_KNOWLEDGE_CRON = "0 2 * * 0"  # Sundays at 02:00
TIMEZONE = "UTC"

refresh_index_schedule = dg.ScheduleDefinition(
    name="refresh_index_every_2h",
    job=refresh_index,
    cron_schedule=REFRESH_INDEX_CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh the index every two hours, even if the source sensor saw nothing "
                "(it cannot see remote git sources unless told to).",
)


@dg.schedule(name="compile_knowledge_weekly", job=compile_knowledge,
             cron_schedule=COMPILE_KNOWLEDGE_CRON, execution_timezone=TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING)
def compile_knowledge_schedule(context: dg.ScheduleEvaluationContext,
                               kc_settings: KCSettings) -> list[dg.RunRequest]:
    """Compile the static knowledge into adapters and evaluate them, weekly: one run per
    tenant of kc.yaml (the training assets are partitioned by tenant)."""
    tenants = kc_settings.load().tenants
    new = sync_tenant_partitions(context.instance, tenants)
    if new:
        context.log.info(f"added tenant partitions: {', '.join(new)}")
    tick = context.scheduled_execution_time.isoformat()
    return [dg.RunRequest(partition_key=tenant, run_key=f"{tenant}@{tick}",
                          tags={"kc/tenant": tenant}) for tenant in tenants]
