"""The four-way evaluation of a tenant's candidate model, the stakeholder report, and the
promotion gate that moves `@champion` only when the candidate is at least as good
(`evaluation.tenant`, `evaluation.promotion`)."""

from pathlib import Path

import dagster as dg

from dagster_project.defs.index.resources import EmbedderResource
from dagster_project.defs.training.mlflow_resource import MLflowTracking
from dagster_project.defs.training.model_assets import grpo_adapter, sft_adapter
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.resources import KCSettings, Warehouse
from evaluation.promotion import log_and_promote
from evaluation.tenant import NoCurrentAdapter, evaluate_tenant


@dg.asset(partitions_def=TENANTS, group_name="evaluation", kinds={"mlflow", "html"},
          deps=[sft_adapter, grpo_adapter, dg.AssetKey("rag_index")],
          check_specs=[dg.AssetCheckSpec("promotion_gate", asset="evaluation_report")])
def evaluation_report(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                      warehouse: Warehouse, embedder: EmbedderResource,
                      mlflow_tracking: MLflowTracking):
    """Arms by question sets on held-out questions, an HTML report, and the promotion gate."""
    tenant, settings = context.partition_key, kc_settings.load()
    try:
        evaluation = evaluate_tenant(settings, tenant, Path(warehouse.path), embedder.get())
    except NoCurrentAdapter as exc:
        raise dg.Failure(str(exc)) from None
    mlflow_tracking.activate()
    gate = log_and_promote(settings, tenant, evaluation, warn=context.log.warning)
    context.log.info(f"{tenant}: promotion {'granted' if gate.promote else 'refused'}: "
                     f"{gate.reason}")
    yield dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(evaluation.page)),
        "report_url": dg.MetadataValue.url(evaluation.page.as_uri()),
        "summary": dg.MetadataValue.json(evaluation.summary["results"]),
        "gain_recovery": dg.MetadataValue.json(evaluation.summary.get("gain_recovery")),
        "candidate_version": gate.candidate, "champion_version": gate.champion_now})
    yield dg.AssetCheckResult(
        check_name="promotion_gate", passed=gate.promote, severity=dg.AssetCheckSeverity.WARN,
        metadata={"decision": gate.reason, "figures": dg.MetadataValue.json(gate.figures),
                  "champion_before": gate.champion_before, "candidate": gate.candidate})
