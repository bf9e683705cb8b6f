"""dbt models as Dagster assets: staging → intermediate → marts (routes, capacity, chunk sets)."""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from dagster_project.resources import KCSettings, Warehouse

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


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT,
            dagster_dbt_translator=KCDbtTranslator())
def routing_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                   kc_settings: KCSettings, warehouse: Warehouse) -> Iterator[Any]:
    """dbt build with the routing policy from kc.yaml; a failing dbt test fails the run."""
    dbt_vars = kc_settings.load().dbt_vars()
    held = None
    # dbt runs as a subprocess holding the DuckDB file: read the route counts only after it
    # exits, and attach them to the document_routes materialization then.
    for event in dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream():
        key = getattr(event, "asset_key", None) or getattr(event, "output_name", None)
        if key is not None and "document_routes" in str(key):
            held = event
            continue
        yield event
    if held is not None:
        counts = route_counts(warehouse)
        yield held.with_metadata({**(held.metadata or {}),
                                  "routes_per_tenant": dg.MetadataValue.json(counts),
                                  "policy": dg.MetadataValue.json(dbt_vars)})
