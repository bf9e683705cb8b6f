"""The dbt asset holds document_routes' output (and what follows it) until dbt exits, to add the
route counts, and loses none of its events: its own test results once took its place."""

import dagster as dg
import pytest

from dagster_project.defs.warehouse.assets import ROUTES_KEY, routes_last

STAGING = dg.AssetKey(["staging", "stg_raw__documents"])
CHUNKS = dg.AssetKey(["marts", "chunks_for_index"])


def output(key: dg.AssetKey) -> dg.Output:
    return dg.Output(None, output_name=key.to_python_identifier(), metadata={"rows": 1})


def check(key: dg.AssetKey, name: str, passed: bool = True) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(asset_key=key, check_name=name, passed=passed)


def describe(events) -> list[str]:
    return [e.output_name if isinstance(e, dg.Output) else f"{e.check_name}:{e.passed}"
            for e in events]


def test_routes_output_gets_the_counts_and_keeps_its_checks_and_order():
    events = [output(STAGING), check(STAGING, "unique_doc"), output(ROUTES_KEY),
              check(ROUTES_KEY, "unique_route"), check(ROUTES_KEY, "not_null_route"),
              output(CHUNKS), check(CHUNKS, "unique_chunk")]
    read = []
    out = list(routes_last(iter(events), lambda: read.append(1) or {"routes": 3}))
    assert describe(out) == describe(events)  # nothing dropped, dependency order kept
    routes = out[2]
    assert {k: v.value for k, v in routes.metadata.items()} == {"rows": 1, "routes": 3}
    assert read == [1]  # once, after dbt exited


def test_a_failed_build_still_reports_the_held_events():
    def failing():
        yield output(ROUTES_KEY)
        yield check(ROUTES_KEY, "accepted_values_route", passed=False)
        raise RuntimeError("dbt build failed")

    seen = []
    with pytest.raises(RuntimeError, match="dbt build failed"):
        for event in routes_last(failing(), lambda: {"routes": 3}):
            seen.append(event)
    assert describe(seen) == ["marts__document_routes", "accepted_values_route:False"]
    assert "routes" not in seen[0].metadata  # the warehouse may be half-built: no counts


def test_a_build_without_the_routes_model_holds_nothing():
    events = [output(STAGING), check(STAGING, "unique_doc")]
    assert describe(routes_last(iter(events), lambda: pytest.fail("no routes"))) == \
        describe(events)
