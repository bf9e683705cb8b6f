"""The four-way evaluation of a tenant's candidate model, the stakeholder report, and the
promotion gate that moves `@champion` only when the candidate is at least as good
(`evaluation.tenant`, `evaluation.promotion`)."""

from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project.defs.index.resources import EmbedderResource
from dagster_project.defs.training.mlflow_resource import MLflowTracking
from dagster_project.defs.training.model_assets import grpo_adapter, sft_adapter
from dagster_project.defs.training.partitions import TENANTS, tenant_check
from dagster_project.resources import KCSettings, Warehouse
from evaluation.promotion import log_and_promote
from evaluation.tenant import NoCurrentAdapter, evaluate_tenant


def rounded(value: Any, digits: int = 3) -> Any:
    """Floats to `digits` places, through dicts and lists (shares and seconds: 3 places is a
    tenth of a percent, a millisecond).

    >>> rounded({"em": 0.3333333333333333, "n": 10, "p50_s": [0.33596007]})
    {'em': 0.333, 'n': 10, 'p50_s': [0.336]}
    """
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value


@dg.asset(partitions_def=TENANTS, group_name="evaluation", kinds={"mlflow", "html"},
          deps=[sft_adapter, grpo_adapter, dg.AssetKey("rag_index")],
          check_specs=[tenant_check("promotion_gate", "evaluation_report")])
def evaluation_report(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                      warehouse: Warehouse, embedder: EmbedderResource,
                      mlflow_tracking: MLflowTracking):
    """Arms by question sets on held-out questions, an HTML report, and the promotion gate."""
    tenant, settings = context.partition_key, kc_settings.load()
    try:
        evaluation = evaluate_tenant(settings, tenant, Path(warehouse.path), embedder.get())
    except NoCurrentAdapter as exc:
        raise dg.Failure(str(exc)) from None
    tracking = mlflow_tracking.activate()
    gate = log_and_promote(settings, tenant, evaluation, warn=context.log.warning)
    context.log.info(f"{tenant}: promotion {'granted' if gate.promote else 'refused'}: "
                     f"{gate.reason}")
    yield dg.MaterializeResult(metadata={
        # A browser page cannot open file:// links: the report's page in the MLflow UI.
        **({"report_url": dg.MetadataValue.url(tracking.run_url(
            gate.experiment_id, gate.run_id, "evaluation/index.html"))} if gate.run_id else {}),
        "report": dg.MetadataValue.path(str(evaluation.page)),
        "summary": dg.MetadataValue.json(rounded(evaluation.summary["results"])),
        "gain_recovery": dg.MetadataValue.json(rounded(evaluation.summary.get("gain_recovery"))),
        "candidate_version": gate.candidate, "champion_version": gate.champion_now})
    yield dg.AssetCheckResult(
        check_name="promotion_gate", passed=gate.promote, severity=dg.AssetCheckSeverity.WARN,
        metadata={"decision": gate.reason, "figures": dg.MetadataValue.json(rounded(gate.figures)),
                  "champion_before": gate.champion_before, "candidate": gate.candidate})
