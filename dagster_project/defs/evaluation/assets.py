"""The four-way evaluation of a tenant's candidate model, the stakeholder report, and the
promotion gate that moves `@champion` only when the candidate is at least as good."""

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import mlflow

from dagster_project.defs.index.resources import EmbedderResource
from dagster_project.defs.training.mlflow_resource import MLflowTracking
from dagster_project.defs.training.model_assets import grpo_adapter, sft_adapter
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.resources import KCSettings, Warehouse
from evaluation.arms import AnsweringModel, ArmSettings, bundles_for_arms
from evaluation.question_sets import load_question_sets
from evaluation.report import write_report
from evaluation.runner import capacity_figures, evaluate, forgetting, promotion_decision
from retrieval.access import Principal
from retrieval.index import ChunkIndex
from training import registry
from training.compile_inputs import adapter_dirs, tenant_training_data
from training.trainers import torch_threads


def tenant_principal(settings, tenant: str) -> Principal:
    """What the tenant's own members may read: its sources' groups, its tenant only."""
    groups = {g for s in settings.sources if s.tenant == tenant for g in s.acl_groups}
    return Principal(user=f"eval-{tenant}", groups=frozenset(groups),
                     tenants=frozenset({tenant}))


def source_roots(settings) -> dict[str, str]:
    if not settings.evaluation.corpus_root:
        return {}
    root = settings.resolve_path(settings.evaluation.corpus_root)
    out = {}
    for spec in settings.source_specs():
        if spec.path is not None and spec.path.is_relative_to(root):
            out[spec.name] = str(spec.path.relative_to(root))
    return out


def _routing_and_capacity(con) -> tuple[dict, dict]:
    routing: dict[str, dict[str, int]] = {}
    for tenant, route, n in con.execute("select tenant, route, count(*) from "
                                        "marts.document_routes group by all").fetchall():
        routing.setdefault(tenant, {})[route] = n
    capacity = {t: {"budget_bits": c, "used_bits": u} for t, c, u in con.execute(
        "select tenant, capacity_bits, used_fact_bits from marts.capacity_budget").fetchall()}
    return routing, capacity


def _champion_on_same_questions(context: dg.AssetExecutionContext, name: str, sets: dict,
                                settings) -> dict | None:
    """The champion answering the candidate's own held-out questions, closed-book: when the
    QA sets changed since the champion was evaluated, its logged figures are for other
    questions and comparing them would be apples to oranges."""
    from evaluation.arms import model_window
    from evaluation.runner import HELD_OUT_SETS
    from training.loading import load_registered

    held = {k: v for k, v in sets.items() if k in HELD_OUT_SETS}
    try:
        model, tok = load_registered(f"models:/{name}@{registry.CHAMPION}")
    except Exception as exc:  # e.g. its files were deleted: nothing to compare against
        context.log.warning(f"{name}@{registry.CHAMPION} could not be loaded ({exc}); the "
                            "candidate is compared with no champion")
        return None
    champion = AnsweringModel(model, tok, model_window(model), name="champion")
    with torch_threads(settings.training.torch_threads):
        result = evaluate(held, {"compiled": champion}, arms=["compiled"], ceiling=False)
    return result.summary


def _train_accuracy(run_dir: Path) -> float | None:
    result = run_dir / "result.json"
    return json.loads(result.read_text()).get("train_accuracy") if result.exists() else None


def _capacity(settings, summary: dict, facts: int, sft_adapter_dir: Path) -> dict:
    """Bits per trainable parameter of the tenant's SFT adapter, trained on `facts` facts
    (see capacity_figures)."""
    from safetensors import safe_open

    weights = sft_adapter_dir / "adapter_model.safetensors"
    if not weights.exists():
        return {}
    with safe_open(str(weights), "pt") as f:
        trainable = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    return capacity_figures(summary, facts, settings.policy.bits_per_fact, trainable)


@dg.asset(partitions_def=TENANTS, group_name="evaluation", kinds={"mlflow", "html"},
          deps=[sft_adapter, grpo_adapter, dg.AssetKey("rag_index")],
          check_specs=[dg.AssetCheckSpec("promotion_gate", asset="evaluation_report")])
def evaluation_report(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                      warehouse: Warehouse, embedder: EmbedderResource,
                      mlflow_tracking: MLflowTracking):
    """Arms by question sets on held-out questions, an HTML report, and the promotion gate."""
    tenant = context.partition_key
    settings = kc_settings.load()
    ev = settings.evaluation
    base, sft_dir, grpo_dir = adapter_dirs(settings, tenant)
    if not sft_dir.is_dir():
        raise dg.Failure(f"tenant {tenant}: no adapter was trained on the current QA dataset and "
                         "base (the data changed since the last compile): run the compile "
                         "first (`kc run`, or the compile_knowledge job)")
    questions_file = settings.resolve_path(ev.questions_file) if ev.questions_file else None
    with warehouse.connect(read_only=True) as con:
        trained, _ = tenant_training_data(con, settings, tenant)
        trained_facts = {p["fact_id"] for p in trained}
        sets = load_question_sets(con, questions_file, source_roots(settings),
                                  limit=ev.per_set_limit, tenants=[tenant],
                                  trained_facts=trained_facts)
        routing, capacity = _routing_and_capacity(con)
    sets = {name: qs for name, qs in sets.items()
            if qs and (ev.sets is None or name in ev.sets)}
    compiled_dir = grpo_dir if grpo_dir is not None else sft_dir
    models = dict(bundles_for_arms(
        AnsweringModel.load(base, name="base"),
        AnsweringModel.load(base, compiled_dir, name="compiled"),
        AnsweringModel.load(base, sft_dir, name="compiled_sft") if grpo_dir else None))
    index = ChunkIndex(settings.index_path, embedder.get())
    with torch_threads(settings.training.torch_threads):
        result = evaluate(sets, models, index=index,
                          principal=tenant_principal(settings, tenant),
                          settings=ArmSettings(k=ev.k, batch_size=ev.batch_size,
                                               max_context_tokens=ev.max_context_tokens),
                          model_info={"tenant": tenant, "base": str(base),
                                      "base_model": settings.model.base,
                                      "compiled": str(compiled_dir),
                                      "compiled_sft": str(sft_dir)})
        result.summary["forgetting"] = forgetting(models["base"], models["compiled"])
    result.summary["capacity"] = _capacity(settings, result.summary, len(trained_facts),
                                            sft_dir)
    if result.summary["capacity"]:
        from training.capacity import record_measurement

        result.summary["capacity"]["fed_to_routing"] = record_measurement(
            settings.kc_home, tenant, result.summary["capacity"],
            _train_accuracy(sft_dir.parent))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = settings.reports_path / f"{stamp}-{tenant}"
    page = write_report(result, out_dir, routing=routing, capacity=capacity)
    summary = json.loads((out_dir / "summary.json").read_text())

    # The candidate is the newest version of kc-<tenant>; the champion holds the alias.
    mlflow_tracking.activate()
    name = registry.registered_name(tenant)
    client = mlflow.MlflowClient()
    versions = sorted(client.search_model_versions(f"name = '{name}'"),
                      key=lambda v: int(v.version))
    candidate = versions[-1] if versions else None
    candidate_version = str(candidate.version) if candidate else None
    champion = registry.champion_version(name)
    champion_summary = None
    if champion and candidate and champion != candidate_version:
        champion_summary = _champion_on_same_questions(context, name, sets, settings)
    decision = promotion_decision(summary, champion_summary,
                                  max_stale_error=ev.max_stale_error)
    if champion and champion == candidate_version:  # re-evaluated: nothing new to promote
        decision.reason = (f"version {champion} is already the champion (re-evaluated on the "
                           "current data; the alias stays)"
                           + ("" if decision.promote else f"; it now fails: {decision.reason}"))
    if candidate is not None:
        with mlflow.start_run(run_id=candidate.run_id):
            mlflow.log_artifacts(str(out_dir), artifact_path="evaluation")
            for qset, arms in summary["results"].items():
                for arm, figures in arms.items():
                    if figures.get("exact_match") is not None:
                        mlflow.log_metric(f"eval.{qset}.{arm}.em", figures["exact_match"])
        if decision.promote and champion != candidate_version:
            registry.promote(name, candidate_version, reason=decision.reason)
    context.log.info(f"{tenant}: promotion {'granted' if decision.promote else 'refused'}: "
                     f"{decision.reason}")
    yield dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(page)),
        "report_url": dg.MetadataValue.url(page.as_uri()),
        "summary": dg.MetadataValue.json(summary["results"]),
        "gain_recovery": dg.MetadataValue.json(summary.get("gain_recovery")),
        "candidate_version": candidate_version,
        "champion_version": registry.champion_version(name)})
    yield dg.AssetCheckResult(
        check_name="promotion_gate", passed=decision.promote,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"decision": decision.reason,
                  "figures": dg.MetadataValue.json(decision.figures),
                  "champion_before": champion, "candidate": candidate_version})
