"""One tenant's evaluation: its held-out question sets, every arm on its current compile, the
capacity measured, and the stakeholder report (the `evaluation_report` asset calls
`evaluate_tenant`; `evaluation.promotion` then decides on `@champion`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from answering import AnsweringModel, ArmSettings
from evaluation.learning_curve import measured_curve
from evaluation.principals import tenant_principal
from evaluation.question_sets import Question, load_question_sets, source_roots
from evaluation.report import (
    add_chunk_texts,
    cited_chunk_ids,
    warehouse_chunk_texts,
    write_report,
)
from evaluation.runner import bundles_for_arms, capacity_figures, evaluate, forgetting
from ingestion.warehouse import connect
from retrieval.embedder import Embedder
from retrieval.index import ChunkIndex
from settings.config import Settings
from training.capacity import record_measurement
from training.compile_inputs import adapter_dirs, tenant_training_data
from training.trainers import torch_threads


class NoCurrentAdapter(RuntimeError):
    """The tenant has no adapter trained on its current data and base."""


@dataclass
class TenantEvaluation:
    sets: dict[str, list[Question]]
    out_dir: Path
    page: Path
    summary: dict[str, Any]  # summary.json as written


def routing_and_capacity(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict]:
    """Documents per (tenant, route), and each tenant's capacity budget in bits."""
    routing: dict[str, dict[str, int]] = {}
    for tenant, route, n in con.execute("select tenant, route, count(*) from "
                                        "marts.document_routes group by all").fetchall():
        routing.setdefault(tenant, {})[route] = n
    capacity = {t: {"budget_bits": c, "used_bits": u} for t, c, u in con.execute(
        "select tenant, capacity_bits, used_fact_bits from marts.capacity_budget").fetchall()}
    return routing, capacity


def _train_accuracy(run_dir: Path) -> float | None:
    result = run_dir / "result.json"
    return json.loads(result.read_text()).get("train_accuracy") if result.exists() else None


def _capacity(settings: Settings, summary: dict, facts: int, sft_adapter_dir: Path) -> dict:
    """Bits per trainable parameter of the tenant's SFT adapter, trained on `facts` facts
    (see capacity_figures)."""
    from safetensors import safe_open

    weights = sft_adapter_dir / "adapter_model.safetensors"
    if not weights.exists():
        return {}
    with safe_open(str(weights), "pt") as f:
        trainable = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    return capacity_figures(summary, facts, settings.policy.bits_per_fact, trainable)


def evaluate_tenant(settings: Settings, tenant: str, warehouse: Path,
                    embedder: Embedder) -> TenantEvaluation:
    """Arms by question sets on the tenant's held-out questions, the capacity measurement fed
    back to routing, and the HTML report under `settings.reports_path`."""
    ev = settings.evaluation
    base, sft_dir, grpo_dir = adapter_dirs(settings, tenant)
    if not sft_dir.is_dir():
        raise NoCurrentAdapter(
            f"tenant {tenant}: no adapter was trained on the current QA dataset and base (the "
            "data changed since the last compile): run the compile first (`kc run`, or the "
            "compile_knowledge job)")
    questions_file = settings.resolve_path(ev.questions_file) if ev.questions_file else None
    with connect(warehouse, read_only=True) as con:
        trained, _ = tenant_training_data(con, settings, tenant)
        trained_facts = {p["fact_id"] for p in trained}
        sets = load_question_sets(con, questions_file, source_roots(settings),
                                  limit=ev.per_set_limit, tenants=[tenant],
                                  trained_facts=trained_facts)
        routing, capacity = routing_and_capacity(con)
    sets = {name: qs for name, qs in sets.items()
            if qs and (ev.sets is None or name in ev.sets)}
    compiled_dir = grpo_dir if grpo_dir is not None else sft_dir
    models = dict(bundles_for_arms(
        AnsweringModel.load(base, name="base"),
        AnsweringModel.load(base, compiled_dir, name="compiled"),
        AnsweringModel.load(base, sft_dir, name="compiled_sft") if grpo_dir else None))
    with torch_threads(settings.training.torch_threads):
        result = evaluate(sets, models, index=ChunkIndex(settings.index_path, embedder),
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
        result.summary["capacity"]["fed_to_routing"] = record_measurement(
            settings.kc_home, tenant, result.summary["capacity"],
            _train_accuracy(sft_dir.parent))
    result.summary["learning_curve"] = measured_curve(settings.kc_home, tenant)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = settings.reports_path / f"{stamp}-{tenant}"
    with connect(warehouse, read_only=True) as con:  # the examples show what they cite
        add_chunk_texts(result.summary, warehouse_chunk_texts(
            con, cited_chunk_ids(result.summary)))
    page = write_report(result, out_dir, routing=routing, capacity=capacity)
    summary = json.loads((out_dir / "summary.json").read_text())
    return TenantEvaluation(sets, out_dir, page, summary)
