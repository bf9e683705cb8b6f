"""dbt models as Dagster assets: staging → intermediate → marts (routes, capacity, chunk sets)."""

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from dagster_project.resources import KCSettings, Warehouse
from training.capacity import routing_vars

DBT_DIR = Path(__file__).resolve().parents[3] / "dbt"
DBT_PROJECT = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
DBT_PROJECT.prepare_if_dev()


class KCDbtTranslator(DagsterDbtTranslator):
    """dbt sources `raw.<table>` map onto the ingestion assets' keys `raw/<table>` (the
    default for sources), so the graph shows one lineage from files to routes; models go in
    the `warehouse` group."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str,
                       project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("model."):
            return spec.replace_attributes(group_name="warehouse")
        return spec


def route_counts(warehouse: Warehouse) -> dict[str, dict[str, int]]:
    with warehouse.connect(read_only=True) as con:
        rows = con.execute("select tenant, route, count(*) from marts.document_routes "
                           "group by all order by all").fetchall()
    counts: dict[str, dict[str, int]] = {}
    for tenant, route, n in rows:
        counts.setdefault(tenant, {})[route] = n
    return counts


def project_fingerprint(dbt_vars: Mapping[str, Any], dbt_dir: Path = DBT_DIR) -> str:
    """Hash of what dbt unit tests depend on: the project's files, the vars and the dbt
    versions. Unit tests run on fixed given rows, never on the warehouse's data."""
    digest = hashlib.sha256(json.dumps([dict(dbt_vars), version("dbt-core"),
                                        version("dbt-duckdb")], sort_keys=True,
                                       default=str).encode())
    for path in sorted(p for p in dbt_dir.rglob("*") if p.is_file()
                       and not {"target", "logs", "dbt_packages"} & set(
                           p.relative_to(dbt_dir).parts)):
        digest.update(str(path.relative_to(dbt_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_args(dbt_vars: Mapping[str, Any], state_dir: Path,
               dbt_dir: Path = DBT_DIR) -> tuple[list[str], str]:
    """``dbt build`` arguments, and the fingerprint to record once the build succeeds.

    Unit tests (a third of the build's time on the sample corpus) are skipped when they
    passed on exactly this project and these vars: a data-only refresh cannot change their
    outcome. Models, views (they embed the run's as_of) and every data test always run."""
    fingerprint = project_fingerprint(dbt_vars, dbt_dir)
    args = ["build", "--vars", json.dumps(dbt_vars)]
    marker = state_dir / UNIT_TESTS_PASSED
    if marker.exists() and marker.read_text().strip() == fingerprint:
        args += ["--exclude", "resource_type:unit_test"]
    return args, fingerprint


UNIT_TESTS_PASSED = "unit_tests_passed"
ROUTES_KEY = dg.AssetKey(["marts", "document_routes"])


def _is_output_of(event: Any, key: dg.AssetKey) -> bool:
    # dbt names an output after its asset; the asset's test results carry the same asset key,
    # so a match on the key alone (or a substring of it) takes a test result for the model.
    return isinstance(event, dg.Output) and event.output_name == key.to_python_identifier()


def routes_last(events: Iterable[Any], route_metadata: Callable[[], dict[str, Any]],
                key: dg.AssetKey = ROUTES_KEY) -> Iterator[Any]:
    """dbt's events, with model `key`'s output, and every event after it, held to the end.

    dbt runs as a subprocess holding the DuckDB file: the route counts can be read only after
    it exits, so that model's materialization waits for them (`route_metadata`). The events
    that follow it wait too, in their order: Dagster takes a multi-asset's outputs in
    dependency order only, and a check result after the materialization it checks. When the
    build fails, the held events still go out (without the counts), so a failed test shows."""
    held: list[Any] = []
    try:
        for event in events:
            if held or _is_output_of(event, key):
                held.append(event)
            else:
                yield event
    except Exception:
        yield from held
        raise
    for event in held:
        if _is_output_of(event, key):
            event = event.with_metadata({**event.metadata, **route_metadata()})
        yield event


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT,
            dagster_dbt_translator=KCDbtTranslator())
def routing_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                   kc_settings: KCSettings, warehouse: Warehouse) -> Iterator[Any]:
    """dbt build with the routing policy from kc.yaml; a failing dbt test fails the run."""
    settings = kc_settings.load()
    dbt_vars = routing_vars(settings)
    # One target folder per KC home, kept between runs: dbt's partial parse reuses it (a fresh
    # folder per run re-parsed the whole project each time, seconds of every refresh).
    state_dir = settings.kc_home / "dbt"
    args, fingerprint = build_args(dbt_vars, state_dir)
    invocation = dbt.cli(args, context=context, target_path=state_dir / "target")
    yield from routes_last(invocation.stream(), lambda: {
        "routes_per_tenant": dg.MetadataValue.json(route_counts(warehouse)),
        "policy": dg.MetadataValue.json(dbt_vars)})
    # stream() raised if any node failed: every unit test ran and passed, unless this run
    # built a subset of the models (then only theirs ran).
    whole = context.selected_asset_keys == context.assets_def.keys
    if whole and "resource_type:unit_test" not in args:
        (state_dir / UNIT_TESTS_PASSED).write_text(fingerprint)
