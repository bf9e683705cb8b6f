"""RoutingPolicy validation and the --vars dict it produces for the dbt project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from settings.routing_policy import (
    OverrideRoute,
    RouteOverride,
    RoutingPolicy,
    SourcePolicy,
    dbt_vars,
)

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt" / "dbt_project.yml"


def test_defaults_equal_the_dbt_project_vars() -> None:
    project_vars = yaml.safe_load(DBT_PROJECT.read_text())["vars"]
    produced = dbt_vars(RoutingPolicy(), overrides=[], source_policies=[], as_of=None)
    assert produced == project_vars


def test_documented_defaults() -> None:
    policy = RoutingPolicy()
    assert (policy.min_stable_days, policy.max_changes_90d) == (30, 4)
    # LoRA r=32 on q (576x576), k, v (576x192), o, gate, up, down (576x1536) of 30 layers.
    assert policy.adapter_trainable_params == 30 * 32 * (
        2 * (576 + 576) + 2 * (576 + 192) + 3 * (576 + 1536))
    assert (policy.bits_per_param, policy.capacity_safety_factor, policy.bits_per_fact) == (
        2.0,
        0.5,
        24,
    )
    assert policy.cost_rule_enabled is False


@pytest.mark.parametrize(
    "field, value",
    [
        ("capacity_safety_factor", 0),
        ("capacity_safety_factor", 1.5),
        ("bits_per_param", 0),
        ("adapter_trainable_params", -1),
        ("min_stable_days", -1),
        ("epochs", 0),
        ("questions_per_day", {"acme": -3}),
        ("retrieval_budget", 1),
    ],
)
def test_rejects_out_of_range_and_unknown_settings(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        RoutingPolicy.model_validate({field: value})


def test_full_safety_factor_and_zero_thresholds_are_allowed() -> None:
    policy = RoutingPolicy(capacity_safety_factor=1, min_stable_days=0, max_changes_90d=0)
    assert policy.capacity_safety_factor == 1.0


def test_override_routes_exclude_overflow() -> None:
    assert {route.value for route in OverrideRoute} == {"volatile", "static", "excluded"}
    with pytest.raises(ValidationError, match="route"):
        RouteOverride(glob="*.md", route="overflow")
    with pytest.raises(ValidationError, match="glob"):
        RouteOverride(glob="", route="excluded")


def test_dbt_vars_serialises_overrides_policies_and_as_of_in_utc() -> None:
    as_of = datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=1)))
    produced = dbt_vars(
        RoutingPolicy(min_stable_days=14, questions_per_day={"acme": 120}),
        overrides=[
            RouteOverride(source_id="wiki", glob="legal/**", route="excluded", reason="hold"),
            RouteOverride(glob="**/*.csv", route=OverrideRoute.VOLATILE),
        ],
        source_policies=[{"source_id": "repo", "max_changes_90d": 10}, SourcePolicy(source_id="x")],
        as_of=as_of,
    )
    assert produced["as_of"] == "2026-03-01T00:30:00+00:00"
    assert produced["min_stable_days"] == 14
    assert produced["questions_per_day"] == {"acme": 120.0}
    assert produced["route_overrides"] == [
        {"source_id": "wiki", "glob": "legal/**", "route": "excluded", "reason": "hold"},
        {"source_id": None, "glob": "**/*.csv", "route": "volatile", "reason": None},
    ]
    assert produced["source_policies"] == [
        {"source_id": "repo", "min_stable_days": None, "max_changes_90d": 10},
        {"source_id": "x", "min_stable_days": None, "max_changes_90d": None},
    ]


def test_dbt_vars_rejects_naive_as_of_and_duplicate_source_policies() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        dbt_vars(RoutingPolicy(), overrides=[], source_policies=[], as_of=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="more than once"):
        dbt_vars(
            RoutingPolicy(),
            overrides=[],
            source_policies=[{"source_id": "a"}, {"source_id": "a", "min_stable_days": 3}],
            as_of=datetime.now(UTC),
        )
    with pytest.raises(ValidationError, match="min_stable_days"):
        dbt_vars(
            RoutingPolicy(),
            overrides=[],
            source_policies=[{"source_id": "a", "min_stable_days": -1}],
            as_of=None,
        )


def test_policy_as_of_names_an_instant_or_the_last_commit() -> None:
    def produced(**policy: object) -> object:
        return dbt_vars(RoutingPolicy(**policy), overrides=[], source_policies=[], as_of=None)["as_of"]

    assert produced() is None  # "now": dbt uses the run's start time
    assert produced(as_of="last_commit") == "last_commit"
    assert produced(as_of="2025-12-10T14:58:48Z") == "2025-12-10T14:58:48+00:00"
    with pytest.raises(ValueError):
        RoutingPolicy(as_of="yesterday")
    with pytest.raises(ValueError):
        RoutingPolicy(as_of="2025-12-10T14:58:48")  # no timezone
