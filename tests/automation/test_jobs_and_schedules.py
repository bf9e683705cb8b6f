"""Jobs, schedules, retry policies, and the automation definitions beside the project's."""

import itertools
from datetime import UTC, datetime

import dagster as dg
import pytest
import yaml
from dagster._utils.schedules import cron_string_iterator

from dagster_project.defs.automation.definitions import defs as automation_defs
from dagster_project.defs.automation.jobs import (
    COMPILE_KNOWLEDGE_GROUPS,
    REFRESH_INDEX_GROUPS,
    WAREHOUSE_CONCURRENCY_YAML,
    WAREHOUSE_TAG,
)
from dagster_project.defs.automation.retries import NETWORK_RETRY, TRAINING_RETRY
from dagster_project.defs.automation.schedules import (
    compile_knowledge_schedule,
    refresh_index_schedule,
)
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.resources import KCSettings
from tests.automation.conftest import write_config


@pytest.fixture(scope="module")
def merged() -> dg.Definitions:
    """The lead's merge line, as definitions.py will hold it."""
    from dagster_project.definitions import defs

    return dg.Definitions.merge(defs, automation_defs)


def group_keys(defs: dg.Definitions, groups: tuple[str, ...]) -> set[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return {k for k in graph.get_all_asset_keys()
            if graph.get(k).is_materializable and graph.get(k).group_name in groups}


def selected(defs: dg.Definitions, job: str) -> set[dg.AssetKey]:
    return set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)


def test_automation_loads_with_the_project_definitions(merged):
    dg.Definitions.validate_loadable(merged)
    assert {s.name for s in merged.sensors} == {"source_change_sensor", "record_run_failures"}
    assert {s.name for s in merged.schedules} == {"refresh_index_every_2h",
                                                   "compile_knowledge_weekly"}
    refresh = selected(merged, "refresh_index")
    assert dg.AssetKey(["raw", "chunks"]) in refresh
    assert dg.AssetKey(["marts", "document_routes"]) in refresh
    assert refresh == group_keys(merged, REFRESH_INDEX_GROUPS)
    # Empty until the training and evaluation assets land; loadable either way.
    assert selected(merged, "compile_knowledge") == group_keys(merged, COMPILE_KNOWLEDGE_GROUPS)


def test_jobs_take_in_assets_of_their_groups_as_they_land(merged):
    @dg.asset(group_name="index")
    def probe_index() -> None: ...

    @dg.asset(group_name="training", partitions_def=TENANTS, deps=[probe_index])
    def probe_adapter() -> None: ...

    @dg.asset(group_name="evaluation", partitions_def=TENANTS, deps=[probe_adapter])
    def probe_report() -> None: ...

    later = dg.Definitions.merge(
        merged, dg.Definitions(assets=[probe_index, probe_adapter, probe_report]))
    dg.Definitions.validate_loadable(later)
    assert probe_index.key in selected(later, "refresh_index")
    assert probe_adapter.key not in selected(later, "refresh_index")
    compile_keys = selected(later, "compile_knowledge")
    assert {probe_adapter.key, probe_report.key} <= compile_keys
    assert probe_index.key not in compile_keys
    assert compile_keys == group_keys(later, COMPILE_KNOWLEDGE_GROUPS)


def test_schedules():
    assert (refresh_index_schedule.cron_schedule, refresh_index_schedule.job_name) == (
        "0 1-23/2 * * *", "refresh_index")
    assert (compile_knowledge_schedule.cron_schedule, compile_knowledge_schedule.job_name) == (
        "0 2 * * 0", "compile_knowledge")
    assert refresh_index_schedule.execution_timezone == "UTC"
    assert compile_knowledge_schedule.execution_timezone == "UTC"
    start = datetime(2025, 3, 1, tzinfo=UTC).timestamp()  # a Saturday
    refreshes = list(itertools.islice(cron_string_iterator(start, "0 1-23/2 * * *", "UTC"), 84))
    compiles = list(itertools.islice(cron_string_iterator(start, "0 2 * * 0", "UTC"), 2))
    assert [t.isoformat() for t in compiles] == ["2025-03-02T02:00:00+00:00",
                                                 "2025-03-09T02:00:00+00:00"]
    assert {(b - a).total_seconds() for a, b in itertools.pairwise(refreshes)} == {7200}
    assert not set(compiles) & set(refreshes)  # never in the same minute
    assert compiles[0].replace(hour=1) in refreshes  # a refresh began an hour before


def test_refresh_schedule_requests_one_run(merged):
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 2, 1, tzinfo=UTC))
    [request] = refresh_index_schedule.evaluate_tick(context).run_requests
    assert request.partition_key is None
    assert merged.resolve_job_def("refresh_index").tags["kc/warehouse"] == "exclusive"


def test_compile_schedule_requests_one_run_per_tenant(project, merged):
    write_config(project.config, project.home, [
        f"{{name: docs, type: documents, path: {project.docs}, tenant: eng, acl_groups: [eng]}}",
        f"{{name: repo, type: git, path: {project.repo}, tenant: sales, acl_groups: [s]}}",
    ])
    with dg.instance_for_test() as instance:  # schedule contexts need a persistent instance
        instance.add_dynamic_partitions("tenants", ["eng"])
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2025, 3, 2, 2, tzinfo=UTC),
            resources={"kc_settings": KCSettings(config_path=str(project.config))},
            repository_def=merged.get_repository_def())  # resolves keys against the real job
        requests = compile_knowledge_schedule.evaluate_tick(context).run_requests
        assert instance.get_dynamic_partitions("tenants") == ["eng", "sales"]
    assert [(r.partition_key, r.run_key, r.tags["kc/tenant"]) for r in requests] == [
        ("eng", "eng@2025-03-02T02:00:00+00:00", "eng"),
        ("sales", "sales@2025-03-02T02:00:00+00:00", "sales")]
    job = merged.resolve_job_def("compile_knowledge")
    assert job.tags["kc/warehouse"] == "exclusive"
    assert job.partitions_def == TENANTS  # so each request's partition key is valid


def test_warehouse_jobs_queue_one_at_a_time():
    overrides = yaml.safe_load(WAREHOUSE_CONCURRENCY_YAML)
    with dg.instance_for_test(overrides=overrides) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    [(key, value)] = WAREHOUSE_TAG.items()
    assert limits == [{"key": key, "limit": 1}]
    assert value == "exclusive"


def test_retry_policies():
    assert [NETWORK_RETRY.calculate_delay(n) for n in (1, 2, 3)] == [30, 90, 210]
    assert (NETWORK_RETRY.max_retries, NETWORK_RETRY.backoff) == (3, dg.Backoff.EXPONENTIAL)
    assert (TRAINING_RETRY.max_retries, TRAINING_RETRY.calculate_delay(1)) == (1, 120)
