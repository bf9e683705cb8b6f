"""The promotion gate: the tenant's newest registered version (the candidate) takes the MLflow
alias `@champion` only when it is at least as good as the champion on the same held-out
questions (`evaluation.runner.promotion_decision`). MLflow tracking must be active."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlflow

from answering import AnsweringModel
from evaluation.report import update_report
from evaluation.runner import HELD_OUT_SETS, evaluate, promotion_decision
from evaluation.tenant import TenantEvaluation
from settings.config import Settings
from training import registry
from training.trainers import torch_threads

log = logging.getLogger(__name__)


@dataclass
class Promotion:
    promote: bool
    reason: str
    figures: dict[str, Any]
    champion_before: str | None
    candidate: str | None
    champion_now: str | None
    run_id: str | None = None  # the candidate's run, which holds the report (`evaluation/`)
    experiment_id: str | None = None


def _champion_on_same_questions(name: str, sets: dict, settings: Settings,
                                warn: Callable[[str], None]) -> dict | None:
    """The champion answering the candidate's own held-out questions, closed-book: when the
    QA sets changed since the champion was evaluated, its logged figures are for other
    questions and comparing them would be apples to oranges."""
    held = {k: v for k, v in sets.items() if k in HELD_OUT_SETS}
    try:
        champion = AnsweringModel.registered(f"models:/{name}@{registry.CHAMPION}", "champion")
    except Exception as exc:  # e.g. its files were deleted: nothing to compare against
        warn(f"{name}@{registry.CHAMPION} could not be loaded ({exc}); the candidate is "
             "compared with no champion")
        return None
    with torch_threads(settings.training.torch_threads):
        result = evaluate(held, {"compiled": champion}, arms=["compiled"], ceiling=False)
    return result.summary


def log_and_promote(settings: Settings, tenant: str, evaluation: TenantEvaluation,
                    warn: Callable[[str], None] = log.warning) -> Promotion:
    """Log the report and its EM figures to the candidate's MLflow run, and move `@champion`
    to the candidate when the gate passes."""
    name = registry.registered_name(tenant)
    versions = sorted(mlflow.MlflowClient().search_model_versions(f"name = '{name}'"),
                      key=lambda v: int(v.version))
    candidate = versions[-1] if versions else None
    candidate_version = str(candidate.version) if candidate else None
    champion = registry.champion_version(name)
    champion_summary = None
    if champion and candidate and champion != candidate_version:
        champion_summary = _champion_on_same_questions(name, evaluation.sets, settings, warn)
    decision = promotion_decision(evaluation.summary, champion_summary,
                                  max_stale_error=settings.evaluation.max_stale_error)
    if champion and champion == candidate_version:  # re-evaluated: nothing new to promote
        decision.reason = (f"version {champion} is already the champion (re-evaluated on the "
                           "current data; the alias stays)"
                           + ("" if decision.promote else f"; it now fails: {decision.reason}"))
    evaluation.summary["promotion"] = {
        "model": name, "candidate_version": candidate_version, "champion_before": champion,
        "promoted": decision.promote, "reason": decision.reason}
    evaluation.page = update_report(evaluation.out_dir,
                                    promotion=evaluation.summary["promotion"])
    experiment_id = None
    if candidate is not None:
        verdict = ("kept" if champion == candidate_version
                   else "promoted" if decision.promote else "rejected")
        with mlflow.start_run(run_id=candidate.run_id) as run:
            experiment_id = run.info.experiment_id
            mlflow.log_artifacts(str(evaluation.out_dir), artifact_path="evaluation")
            mlflow.log_metrics(accuracy_metrics(evaluation.summary["results"]))
            mlflow.set_tags({"kc.gate_decision": verdict})
        if verdict == "promoted":
            registry.promote(name, candidate_version, reason=decision.reason)
        registry.record_gate(name, candidate_version, decision=verdict, reason=decision.reason,
                             champion=champion)
    return Promotion(decision.promote, decision.reason, decision.figures, champion,
                     candidate_version, registry.champion_version(name),
                     candidate.run_id if candidate else None, experiment_id)


def accuracy_metrics(results: dict[str, dict[str, dict]]) -> dict[str, float]:
    """Exact match per question set and arm, as `accuracy/<set>/<arm>`: the MLflow UI charts
    each name prefix as a section, in name order, so these come first on the run's page.

    >>> accuracy_metrics({"heldout_synthetic": {"rag": {"exact_match": 0.25},
    ...                                         "base": {"exact_match": None}}})
    {'accuracy/heldout_synthetic/rag': 0.25}
    """
    return {f"accuracy/{qset}/{arm}": figures["exact_match"]
            for qset, arms in results.items() for arm, figures in arms.items()
            if figures.get("exact_match") is not None}
