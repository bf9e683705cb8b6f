"""What `kc run` leaves in the Dagster instance, read back through its API: the named jobs ran
(not `__ephemeral_asset_job__`), every dbt model was materialized with its own test results,
and every asset check has a result, for its partition where the asset is partitioned."""

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from dagster_project.definitions import defs
from dagster_project.defs.training.partitions import TENANTS
from knowledge_compiler.pipeline import run_stages
from settings.dbt_manifest import ensure_manifest

ROUTES = dg.AssetKey(["marts", "document_routes"])
DONE = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}


@pytest.fixture
def instance(project, monkeypatch, tmp_path):
    monkeypatch.setenv("KC_CONFIG", str(project.config))
    monkeypatch.setenv("KC_HOME", str(project.home))
    monkeypatch.setenv("KC_WAREHOUSE", str(project.home / "warehouse.duckdb"))
    monkeypatch.setenv("KC_EMBEDDER", "hashing")
    ensure_manifest()
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield instance


def check_keys(job: str) -> set[dg.AssetCheckKey]:
    return set(defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys)


def latest_checks(instance: dg.DagsterInstance,
                  keys: set[dg.AssetCheckKey]) -> dict[dg.AssetCheckKey, object]:
    """The latest execution of each check, where it has one (unpartitioned)."""
    return dict(instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys)))


def partition_checks(instance: dg.DagsterInstance, keys: set[dg.AssetCheckKey],
                     partition: str) -> dict[dg.AssetCheckKey, object]:
    """Per check, what the UI's partition view reads for `partition`."""
    infos = instance.event_log_storage.get_asset_check_partition_info(
        list(keys), partition_keys=[partition])
    return {info.check_key: info for info in infos if info.partition_key == partition}


# ~40 s on 2 cores: ingestion, dbt build (with unit tests), hashing index, offline synthesis
def test_refresh_and_synthesis_record_every_model_and_check(instance):
    stages = run_stages(defs, instance, ["eng"], log_level="WARNING",
                        compile_selection=dg.AssetSelection.assets("qa_dataset"))
    assert [(s.name, s.success) for s in stages] == [("refresh", True), ("compile eng", True)]
    refresh, compile_eng = (instance.get_run_by_id(s.run_id) for s in stages)
    assert refresh.job_name == "refresh_index"
    assert compile_eng.job_name == "compile_knowledge"
    assert compile_eng.tags["dagster/partition"] == "eng"

    graph = defs.resolve_asset_graph()
    models = {k for k in graph.get_all_asset_keys()
              if graph.get(k).is_materializable and graph.get(k).group_name == "warehouse"}
    assert ROUTES in models and len(models) == 14
    unmaterialized = {k for k in models if instance.get_latest_materialization_event(k) is None}
    assert unmaterialized == set()
    routes = instance.get_latest_materialization_event(ROUTES).asset_materialization
    assert routes.metadata["routes_per_tenant"].value == {"eng": {"volatile": 3}}  # all new

    refresh_checks = check_keys("refresh_index")
    recorded = latest_checks(instance, refresh_checks)
    assert refresh_checks - set(recorded) == set()
    assert {r.status for r in recorded.values()} <= DONE
    assert {r.run_id for r in recorded.values()} == {refresh.run_id}
    assert len([k for k in refresh_checks if k.asset_key == ROUTES]) == 15
    # A check result follows the materialization it checks, in the same run.
    routes_check = next(recorded[k] for k in refresh_checks if k.asset_key == ROUTES)
    assert routes_check.event.dagster_event.event_specific_data.target_materialization_data \
        .run_id == refresh.run_id

    qa_checks = {k for k in check_keys("compile_knowledge") if k.asset_key.path == ["qa_dataset"]}
    assert {k.name for k in qa_checks} == {"drop_rate_under_threshold", "natural_question_yield"}
    for_eng = partition_checks(instance, qa_checks, "eng")
    assert set(for_eng) == qa_checks
    assert {i.latest_execution_status for i in for_eng.values()} <= DONE
    assert all(i.is_current for i in for_eng.values())  # against this run's materialization
    assert {r.event.dagster_event.event_specific_data.partition
            for r in latest_checks(instance, qa_checks).values()} == {"eng"}


def test_every_check_on_a_tenant_asset_is_partitioned_by_tenant():
    graph = defs.resolve_asset_graph()
    specs = {spec.key: spec for assets_def in graph.assets_defs
             for spec in assets_def.check_specs}
    assert set(specs) == set(graph.asset_check_keys)
    for key, spec in specs.items():
        assert spec.partitions_def == graph.get(key.asset_key).partitions_def, key
    partitioned = {k.asset_key.to_user_string() for k in graph.asset_check_keys
                   if graph.get(k.asset_key).partitions_def == TENANTS}
    assert partitioned == {"qa_dataset", "sft_adapter", "evaluation_report"}
