"""The rag_index freshness policy and the lazily built freshness check, on a dummy asset."""

import asyncio
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.definitions import freshness_evaluator
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.loader import LoadingContextForTest

from dagster_project.defs.automation.definitions import defs as automation_defs
from dagster_project.defs.automation.freshness import (
    RAG_INDEX_FRESHNESS,
    RAG_INDEX_KEY,
    freshness_checks,
    with_index_freshness,
)


@dg.asset(group_name="index")
def rag_index() -> None:
    """Stands in for the real index asset."""


@dg.asset(group_name="index")
def neighbour() -> None: ...


def policy_of(defs: dg.Definitions, key: dg.AssetKey):
    return defs.resolve_asset_graph().get(key).freshness_policy


def test_policy_windows():
    assert RAG_INDEX_FRESHNESS.fail_window.to_timedelta() == timedelta(hours=6)
    assert RAG_INDEX_FRESHNESS.warn_window.to_timedelta() == timedelta(hours=4)


def test_policy_goes_on_rag_index_only_and_never_overrides():
    defs = dg.Definitions(assets=with_index_freshness([rag_index, neighbour]))
    assert policy_of(defs, RAG_INDEX_KEY) == RAG_INDEX_FRESHNESS
    assert policy_of(defs, neighbour.key) is None
    own = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=1))

    @dg.asset(name="rag_index", freshness_policy=own)
    def strict_index() -> None: ...

    strict = dg.Definitions(assets=with_index_freshness([strict_index]))
    assert policy_of(strict, RAG_INDEX_KEY) == own


def test_policy_evaluates_unknown_pass_warn_fail(monkeypatch):
    """Through Dagster's own evaluator (the one its freshness daemon runs)."""
    defs = dg.Definitions(assets=with_index_freshness([rag_index]))
    node = defs.resolve_asset_graph().get(RAG_INDEX_KEY)
    instance = dg.DagsterInstance.ephemeral()

    def state() -> FreshnessState:
        evaluator = freshness_evaluator.TimeWindowFreshnessPolicyEvaluator()
        return asyncio.run(evaluator.evaluate_freshness(LoadingContextForTest(instance), node))

    assert state() == FreshnessState.UNKNOWN
    assert dg.materialize([rag_index], instance=instance).success
    assert state() == FreshnessState.PASS
    materialized_at = instance.get_latest_materialization_event(RAG_INDEX_KEY).timestamp
    for hours, expected in [(3.9, FreshnessState.PASS), (4.1, FreshnessState.WARN),
                            (6.1, FreshnessState.FAIL)]:
        monkeypatch.setattr(freshness_evaluator, "get_current_timestamp",
                            lambda h=hours: materialized_at + h * 3600)
        assert state() == expected, hours


def test_automation_defs_invent_no_rag_index():
    assert not list(automation_defs.asset_checks or [])
    keys = dg.Definitions.merge(automation_defs).resolve_asset_graph().get_all_asset_keys()
    assert RAG_INDEX_KEY not in keys


@pytest.mark.parametrize("materialize_first", [True, False])
def test_freshness_checks_on_a_dummy_asset(materialize_first):
    checks_defs = freshness_checks()
    defs = dg.Definitions.merge(dg.Definitions(assets=[rag_index]), checks_defs)
    dg.Definitions.validate_loadable(defs)
    assert [s.name for s in checks_defs.sensors] == ["rag_index_freshness_checks_sensor"]
    checks = list(checks_defs.asset_checks)
    instance = dg.DagsterInstance.ephemeral()
    if materialize_first:
        assert dg.materialize([rag_index], instance=instance).success
    result = dg.materialize([rag_index, *checks], instance=instance,
                            selection=dg.AssetSelection.checks(*checks))
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.asset_key == RAG_INDEX_KEY
    assert evaluation.passed is materialize_first
    lower_bound = evaluation.metadata["dagster/freshness_params"].value["lower_bound_delta_seconds"]
    assert lower_bound == 6 * 3600


def test_policy_attaches_to_the_project_index_asset():
    from dagster_project.defs.index.assets import rag_index as project_index

    [mapped] = with_index_freshness([project_index])
    assert mapped.specs_by_key[RAG_INDEX_KEY].freshness_policy == RAG_INDEX_FRESHNESS
