"""`dbt build` on the hand-written fixture warehouse: routes, reasons, capacity and vars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from settings.routing_policy import OverrideRoute, RouteOverride, RoutingPolicy, dbt_vars

# Capacity 600 bits (600 params x 2 bits x 0.5): acme's 648 static fact bits overflow, globex's
# 144 fit.
POLICY = RoutingPolicy(adapter_trainable_params=600)
OVERRIDES = [
    RouteOverride(
        source_id="acme-wiki",
        glob="legal/**/*.md",
        route=OverrideRoute.EXCLUDED,
        reason="legal hold",
    )
]

UNIT_TESTS = {
    "change_stats_unions_versions_and_commits",
    "change_stats_weekly_churn_windows",
    "fact_density_counts_each_kind_once",
    "routes_brand_new_document_is_volatile",
    "routes_changed_yesterday_is_volatile",
    "routes_stable_for_200_days_is_static",
    "routes_weekly_churn_is_volatile",
    "routes_override_wins",
    "routes_source_policies_override_thresholds",
    "routes_overflow_least_fact_dense_first",
    "routes_cost_rule_when_enabled",
    "capacity_budget_tenant_without_static_content",
}

EXPECTED_ROUTES = {
    ("acme-wiki", "policies/refunds.md"): (
        "static",
        "unchanged for 200 days, 0 changes in 90 days",
    ),
    ("acme-wiki", "news/weekly-update.md"): (
        "volatile",
        "changed 2 days ago (< 30 days stable required); changed 13 times in 90 days (> 4 allowed)",
    ),
    ("acme-wiki", "drafts/brand-new.md"): (
        "volatile",
        "new: first seen 1 day ago (< 30 days stable required)",
    ),
    ("acme-wiki", "guides/onboarding.md"): (
        "overflow",
        "overflow: tenant static content 648 fact-bits > capacity 600; least fact-dense first "
        "(this document: 0.3 fact-bits/token)",
    ),
    ("acme-wiki", "legal/contract.md"): (
        "excluded",
        "override: legal hold (route_overrides glob 'legal/**/*.md' on source acme-wiki)",
    ),
    ("acme-repo", "README.md"): (
        "overflow",
        "overflow: tenant static content 648 fact-bits > capacity 600; least fact-dense first "
        "(this document: 4 fact-bits/token)",
    ),
    ("acme-repo", "src/config.py"): ("volatile", "changed 8 times in 90 days (> 4 allowed)"),
    ("acme-archive", "2019/annual-report.md"): (
        "static",
        "override: source acme-archive has route_override static",
    ),
    ("globex-handbook", "handbook/pricing.md"): (
        "static",
        "unchanged for 120 days, 0 changes in 90 days",
    ),
    ("globex-handbook", "handbook/history.md"): (
        "static",
        "unchanged for 500 days, 0 changes in 90 days",
    ),
    ("globex-handbook", "handbook/faq.md"): (
        "volatile",
        "changed 1 day ago (< 30 days stable required)",
    ),
    ("globex-handbook", "handbook/holidays.md"): (
        "volatile",
        "changed 10 days ago (< 30 days stable required)",
    ),
    ("initech-notes", "notes/kickoff.md"): (
        "volatile",
        "new: first seen 0 days ago (< 30 days stable required)",
    ),
}


@pytest.fixture(scope="module")
def built(kc_dbt: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work_dir = tmp_path_factory.mktemp("dbt_build")
    warehouse = kc_dbt.build_warehouse(work_dir / "warehouse.duckdb")
    variables = dbt_vars(POLICY, overrides=OVERRIDES, source_policies=[], as_of=kc_dbt.as_of)
    return kc_dbt.run(["build"], warehouse, work_dir, variables)


def routes_by_key(run: Any) -> dict[tuple[str, str], dict]:
    rows = run.query("select * from marts.document_routes")
    return {(row["source_id"], row["path"]): row for row in rows}


def test_build_passes_every_model_data_test_and_unit_test(built: Any) -> None:
    assert built.failures == {}
    assert built.success
    kinds = {node.split(".")[0] for node in built.statuses}
    assert kinds == {"model", "test", "unit_test"}
    unit_tests = {node.rsplit(".", 1)[-1] for node in built.statuses if node.startswith("unit_")}
    assert UNIT_TESTS <= unit_tests


def test_every_live_document_gets_its_route_and_reason(built: Any, kc_dbt: Any) -> None:
    routes = routes_by_key(built)
    actual = {key: (row["route"], row["reason"]) for key, row in routes.items()}
    assert actual == EXPECTED_ROUTES
    deleted = [doc for doc in kc_dbt.docs if doc.deleted_days_ago is not None]
    assert deleted and all((doc.source_id, doc.path) not in routes for doc in deleted)
    assert {row["as_of"] for row in routes.values()} == {kc_dbt.as_of}


def test_change_evidence_beside_the_route(built: Any) -> None:
    routes = routes_by_key(built)
    readme = routes[("acme-repo", "README.md")]
    # Ingestion met the repository 10 days ago, but its history shows the file is 400 days old.
    assert (readme["days_since_first_seen"], readme["days_since_change"]) == (400, 150)
    news = routes[("acme-wiki", "news/weekly-update.md")]
    assert (news["changes_90d"], news["changes_365d"], news["days_since_change"]) == (13, 14, 2)
    config = routes[("acme-repo", "src/config.py")]
    assert (config["changes_90d"], config["changes_365d"], config["route_rule"]) == (
        8,
        9,
        "churning",
    )


def test_overflow_moves_least_fact_dense_static_documents_first(built: Any) -> None:
    acme = [row for row in routes_by_key(built).values() if row["tenant"] == "acme"]
    overflowed = sorted(
        (row["fact_bits_per_token"], row["path"]) for row in acme if row["route"] == "overflow"
    )
    kept = [row for row in acme if row["route"] == "static" and not row["is_overridden"]]
    assert overflowed == [(0.3, "guides/onboarding.md"), (4.0, "README.md")]
    assert [(row["path"], row["fact_bits_per_token"]) for row in kept] == [
        ("policies/refunds.md", 4.32)
    ]
    assert all(rate < kept[0]["fact_bits_per_token"] for rate, _ in overflowed)


def test_capacity_budget_has_every_tenant(built: Any) -> None:
    rows = built.query(
        "select tenant, capacity_bits, static_fact_bits_before_overflow, overflowed_documents,"
        " overflowed_fact_bits, used_fact_bits, static_documents, volatile_documents,"
        " excluded_documents, is_over_capacity, trainable_params, bits_per_param, safety_factor"
        " from marts.capacity_budget order by tenant"
    )
    common = {
        "capacity_bits": 600.0,
        "is_over_capacity": False,
        "trainable_params": 600,
        "bits_per_param": 2.0,
        "safety_factor": 0.5,
    }
    assert rows == [
        {
            "tenant": "acme",
            "static_fact_bits_before_overflow": 648.0,
            "overflowed_documents": 2,
            "overflowed_fact_bits": 144.0,
            "used_fact_bits": 504.0,
            "static_documents": 2,
            "volatile_documents": 3,
            "excluded_documents": 1,
            **common,
        },
        {
            "tenant": "globex",
            "static_fact_bits_before_overflow": 144.0,
            "overflowed_documents": 0,
            "overflowed_fact_bits": 0.0,
            "used_fact_bits": 144.0,
            "static_documents": 2,
            "volatile_documents": 2,
            "excluded_documents": 0,
            **common,
        },
        {
            "tenant": "initech",
            "static_fact_bits_before_overflow": 0.0,
            "overflowed_documents": 0,
            "overflowed_fact_bits": 0.0,
            "used_fact_bits": 0.0,
            "static_documents": 0,
            "volatile_documents": 1,
            "excluded_documents": 0,
            **common,
        },
    ]


def test_costs_stand_beside_every_routed_document(built: Any) -> None:
    routes = routes_by_key(built)
    refunds = routes[("acme-wiki", "policies/refunds.md")]
    # 100 tokens x 8 QA tokens per token x 3 epochs at $2 per million tokens.
    assert refunds["compile_cost_usd"] == pytest.approx(100 * 8 * 3 / 1e6 * 2.0)
    # One change in 365 days: expected to stay stable 365 / (1 + 1) days.
    assert refunds["expected_stable_days"] == 182.5
    # 50 questions/day x its share of acme's 258 routed (not excluded) tokens x 182.5 days
    # x 1000 retrieved tokens x $0.5 per million.
    assert refunds["retrieval_cost_usd"] == pytest.approx(50 * 100 / 258 * 182.5 * 1000 * 0.5 / 1e6)
    assert refunds["cheaper_route"] == "compile"
    excluded = routes[("acme-wiki", "legal/contract.md")]
    assert (excluded["retrieval_cost_usd"], excluded["cheaper_route"]) == (None, None)
    budget = built.query("select * from marts.capacity_budget where tenant = 'initech'")[0]
    kickoff = routes[("initech-notes", "notes/kickoff.md")]
    assert budget["retrieval_cost_usd"] == pytest.approx(kickoff["retrieval_cost_usd"])
    assert budget["compile_cost_usd"] == 0.0


def test_chunk_marts_follow_the_routes(built: Any, kc_dbt: Any) -> None:
    index = built.query("select path, route, tenant, acl_groups from marts.chunks_for_index")
    training = built.query("select path, route, fact_bits from marts.chunks_for_training")
    routes = {path: route for (_, path), (route, _) in EXPECTED_ROUTES.items()}
    assert sorted(row["path"] for row in index) == sorted(
        path
        for doc in kc_dbt.docs
        if routes.get(doc.path, "excluded") != "excluded"
        for path in [doc.path] * len(doc.chunks)
    )
    assert all(row["route"] == routes[row["path"]] for row in index)
    assert {row["path"] for row in training} == {
        "policies/refunds.md",
        "2019/annual-report.md",
        "handbook/pricing.md",
        "handbook/history.md",
    }
    handbook = next(row for row in index if row["path"] == "handbook/faq.md")
    assert (handbook["tenant"], handbook["acl_groups"]) == ("globex", ["globex-all", "globex-hr"])


def test_fact_tokens_of_a_markdown_table(built: Any) -> None:
    rows = built.query(
        "select fact_token_list, fact_bits from intermediate.int_chunks_fact_density"
        " where chunk_index = 1 and document_id in"
        " (select document_id from marts.document_routes where path = 'policies/refunds.md')"
    )
    assert rows == [
        {
            "fact_token_list": sorted(
                [
                    "1.5%",
                    "2.5%",
                    "30",
                    "30 days",
                    "60",
                    "60 days",
                    "Basic",
                    "Fee",
                    "Plan",
                    "Pro",
                    "Window",
                ]
            ),
            "fact_bits": 11 * 24.0,
        }
    ]


def test_vars_move_documents_between_routes(kc_dbt: Any, tmp_path: Path) -> None:
    """min_stable_days 7 makes a page changed 10 days ago static; a source policy lets a busy
    file through; without as_of the run's start time is "now"."""
    now = datetime.now(UTC)
    warehouse = kc_dbt.build_warehouse(tmp_path / "warehouse.duckdb", as_of=now)
    variables = dbt_vars(
        RoutingPolicy(min_stable_days=7),
        overrides=[],
        source_policies=[{"source_id": "acme-repo", "max_changes_90d": 10}],
        as_of=None,
    )
    run = kc_dbt.run(["run"], warehouse, tmp_path, variables)
    assert run.failures == {}
    assert run.success
    routes = routes_by_key(run)
    holidays = routes[("globex-handbook", "handbook/holidays.md")]
    assert (holidays["route"], holidays["reason"], holidays["min_stable_days"]) == (
        "static",
        "unchanged for 10 days, 1 change in 90 days",
        7,
    )
    config = routes[("acme-repo", "src/config.py")]
    assert (config["route"], config["reason"], config["max_changes_90d"]) == (
        "static",
        "unchanged for 40 days, 8 changes in 90 days",
        10,
    )
    faq = routes[("globex-handbook", "handbook/faq.md")]
    assert (faq["route"], faq["reason"]) == (
        "volatile",
        "changed 1 day ago (< 7 days stable required)",
    )
    (as_of,) = {row["as_of"] for row in routes.values()}
    assert now <= as_of <= datetime.now(UTC)


def test_invalid_vars_stop_dbt_with_a_message(kc_dbt: Any, tmp_path: Path) -> None:
    """Vars that bypass RoutingPolicy (a hand-written --vars) are checked by the macros too."""
    bad = {"route_overrides": [{"glob": "*.md", "route": "overflow"}]}
    with pytest.raises(Exception, match=r"route_overrides\[0\]\.route must be volatile"):
        kc_dbt.run(["parse"], tmp_path / "unused.duckdb", tmp_path, bad)


def test_as_of_last_commit_replays_the_repository_as_it_stood(kc_dbt: Any, tmp_path: Path) -> None:
    """policy.as_of: last_commit measures every age from the newest ingested commit, so a quiet
    repository is routed as it stood at its HEAD rather than as of today."""
    warehouse = kc_dbt.build_warehouse(tmp_path / "warehouse.duckdb")
    variables = dbt_vars(RoutingPolicy(as_of="last_commit"), overrides=[], source_policies=[],
                         as_of=None)
    assert variables["as_of"] == "last_commit"
    run = kc_dbt.run(["run"], warehouse, tmp_path, variables)
    assert run.failures == {}
    (newest,) = run.query("select max(committed_at) as newest from raw.git_commits")
    (as_of,) = {row["as_of"] for row in routes_by_key(run).values()}
    assert as_of == newest["newest"] < kc_dbt.as_of
