"""A tenant's compile, stage by stage: the shared base model, the SFT adapter and the GRPO
adapter, each tracked in MLflow and registered with its lineage (the assets of
`dagster_project.defs.training.model_assets` call these). MLflow tracking must be active
(`training.registry.Tracking.activate`) before a stage that logs.

A stage's inputs are read first, under a short read-only warehouse connection (`*_job`); the
training that follows holds no connection, so the warehouse stays free for other runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import mlflow
from transformers import TrainerCallback

from settings.config import Settings
from training import registry
from training.base_model import describe_folder, materialize_base
from training.compile_inputs import (
    base_for,
    chunk_passages,
    grpo_run_dir,
    heldout_pairs,
    is_packaged,
    lineage,
    sft_run_dir,
    tenant_training_data,
    training_rows_key,
)
from training.config import grpo_settings, reading_settings, sft_settings
from training.generic import base_replay
from training.grpo import train_grpo
from training.mlflow_model import log_adapter
from training.reading import reading_examples
from training.sft import train_sft
from training.trainers import torch_threads

Progress = Callable[..., None]
SFT_CHECKS = ("loss_decreased", "train_accuracy_above_threshold", "adapter_size_under_limit")


class MLflowLoss(TrainerCallback):
    """Trainer logs (loss, learning rate, ...) to the active MLflow run, under `train/`: the
    MLflow UI makes a chart section per name prefix, in name order, and the trainer's own
    prefixes (`clip_ratio/`, `completions/`, often all-zero) would come before the evaluation's
    `accuracy/` charts (`evaluation.promotion`)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        numbers = {f"train/{k}": float(v) for k, v in (logs or {}).items()
                   if isinstance(v, int | float)}
        if numbers:
            mlflow.log_metrics(numbers, step=state.global_step)


# ---------------------------------------------------------------- the base model
def compile_base(settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Materialise the configured base (a packaged GGUF once as safetensors, or a local folder),
    generate its replay rows once for every tenant's SFT, and register it in MLflow as the base
    of every adapter's lineage when first seen. Returns the base's figures."""
    if is_packaged(settings.model.base):
        info = materialize_base(settings.model.base, settings.models_path, progress=progress)
    else:
        info = describe_folder(base_for(settings)[1])
    with torch_threads(settings.training.torch_threads):
        replay = base_replay(info.path)
    # Registered when first seen, or later when a registration did not finish.
    if registry.version_with_tag(registry.BASE_MODEL_NAME, "base_model_hash",
                                 info.sha256) is None:
        with mlflow.start_run(run_name=f"base-{info.name}-{info.sha256[:12]}") as run:
            mlflow.set_tags({"kc.stage": "base", "kc.base": info.name})
            mlflow.log_params({"name": info.name, "parameters": info.parameters,
                               "window": info.window, "license": info.license})
            mlflow.log_artifacts(str(info.path), artifact_path="model")
            registry.register_version(run.info.run_id, "model", registry.BASE_MODEL_NAME,
                                      registry.Lineage("", "", "", registry.project_git_sha(),
                                                       settings.model.base, info.sha256, "base",
                                                       "shared", ()))
    return {"path": str(info.path), "model": settings.model.base, "sha256": info.sha256,
            "built_now": info.built_now, "build_seconds": round(info.seconds, 1),
            "parameters": info.parameters, "window": info.window,
            "size_mb": round(info.bytes / 2**20, 1), "license": info.license,
            "replay_rows": len(replay)}


# ---------------------------------------------------------------- what a stage trains on
@dataclass
class AdapterJob:
    """One adapter stage's inputs and where it goes."""

    tenant: str
    model_id: str
    base: Path
    examples: list[dict]
    notes: list[str]
    reading: list
    lineage: registry.Lineage
    out: Path
    start_from: Path | None = None  # GRPO: the SFT adapter it starts from
    heldout: int = 0
    passages: dict[str, str] = field(default_factory=dict)  # chunk id -> text: the teacher's

    def registered(self) -> dict | None:
        """What an earlier run with the same inputs registered (None: train now)."""
        marker = self.out / "registered.json"
        return json.loads(marker.read_text()) if marker.exists() else None

    def mark_registered(self, run_id: str, version: str, adapter: Path) -> None:
        """Written after registration: a re-run with the same inputs registers nothing new."""
        (self.out / "registered.json").write_text(json.dumps({
            "mlflow_run_id": run_id, "model_version": self.version_name(version),
            "adapter_path": str(adapter)}))

    def version_name(self, version: str) -> str:
        return f"{registry.registered_name(self.tenant)}/{version}"


def adapter_job(con: duckdb.DuckDBPyConnection, settings: Settings, tenant: str, method: str,
                manifest: Path | None) -> AdapterJob:
    """The tenant's closed-book pairs, notes and reading examples, the lineage, and the run
    folder of `method` (sft or grpo: GRPO's folder follows the SFT adapter it starts from)."""
    model_id, base = base_for(settings)
    examples, notes = tenant_training_data(con, settings, tenant)
    passages = chunk_passages(con, tenant)
    reading = reading_examples(examples, passages, reading_settings(settings))
    lin = lineage(con, tenant, settings.datasets_path / tenant, model_id, base, method, manifest)
    out = sft_run_dir(settings, tenant, training_rows_key(examples, notes), lin.base_model_hash)
    if method != "grpo":
        return AdapterJob(tenant, model_id, base, examples, notes, reading, lin, out,
                          passages=passages)
    return AdapterJob(tenant, model_id, base, examples, notes, reading, lin,
                      grpo_run_dir(settings, tenant, out), start_from=out / "adapter",
                      heldout=len(heldout_pairs(con, tenant)))


def run_tags(job: AdapterJob, stage: str) -> dict[str, str]:
    """What the runs list filters on: the tenant, the stage, the base model and the data the
    adapter learned from (the registered version carries the full lineage)."""
    lin = job.lineage
    return {"kc.stage": stage, "kc.tenant": job.tenant, "kc.base": job.model_id,
            "kc.base_sha256": lin.base_model_hash, "kc.qa_dataset_sha256": lin.qa_dataset_sha256,
            "kc.corpus_snapshot_hash": lin.corpus_snapshot_hash, "kc.git_sha": lin.git_sha}


def _register(job: AdapterJob, run_id: str, adapter: Path) -> str:
    artifact = log_adapter(adapter, str(job.base))
    return registry.register_version(run_id, artifact, registry.registered_name(job.tenant),
                                     job.lineage).version


# ---------------------------------------------------------------- SFT
@dataclass
class SFTOutcome:
    metadata: dict[str, Any]
    checks: dict[str, tuple[bool, dict[str, Any]]]  # asset check name -> (passed, metadata)


def compile_sft(job: AdapterJob, settings: Settings,
                progress: Progress | None = None) -> SFTOutcome:
    """LoRA SFT on the job's pairs, reading examples and notes (plus replay), logged to MLflow
    and registered as a new version of kc-<tenant>; with the figures of its three checks."""
    with mlflow.start_run(run_name=f"sft-{job.tenant}") as run:
        mlflow.set_tags(run_tags(job, "sft"))
        registry.log_config({"sft": settings.training.sft, "pairs": len(job.examples),
                             "notes": len(job.notes), "reading": len(job.reading)}, "")
        with torch_threads(settings.training.torch_threads):
            result = train_sft(job.base, [*job.examples, *job.reading], job.notes,
                               settings=sft_settings(settings), out_dir=job.out,
                               progress=progress, callbacks=[MLflowLoss()],
                               teacher_passages=job.passages)
        mlflow.log_metrics({"tokens_per_second": result.tokens_per_second,
                            "train_tokens": result.train_tokens,
                            "train_seconds": result.train_seconds,
                            "train_accuracy": result.train_accuracy or 0.0,
                            "adapter_mb": result.adapter_bytes / 2**20,
                            "trainable_parameters": result.trainable_parameters})
        for epoch, accuracy in result.curve:
            mlflow.log_metric("curve_accuracy", accuracy, step=round(epoch))
        version = _register(job, run.info.run_id, result.adapter_path)
    job.mark_registered(run.info.run_id, version, result.adapter_path)
    losses = [loss for _, loss in result.loss_history]
    adapter_mb = result.adapter_bytes / 2**20
    accuracy = result.train_accuracy or 0.0
    training = settings.training
    return SFTOutcome(metadata={
        "adapter_path": str(result.adapter_path), "mlflow_run_id": run.info.run_id,
        "model_version": job.version_name(version),
        "pairs": len(job.examples), "notes": len(job.notes), "reading_examples": len(job.reading),
        "replay_rows": result.n_replay, "train_tokens": result.train_tokens,
        "train_accuracy": _round(result.train_accuracy, 3),
        "tokens_per_second": round(result.tokens_per_second, 1),
        "train_seconds": round(result.train_seconds, 1), "adapter_mb": round(adapter_mb, 2),
        "trainable_parameters": result.trainable_parameters, "cached": result.cached,
        "loss_first_last": losses[:1] + losses[-1:], "learning_curve": result.curve},
        checks={
            "loss_decreased": (result.cached or (len(losses) >= 2 and losses[-1] < losses[0]),
                               {"first": _round(losses[0] if losses else None, 4),
                                "last": _round(losses[-1] if losses else None, 4)}),
            "train_accuracy_above_threshold": (
                accuracy >= training.min_train_accuracy,
                {"accuracy": round(accuracy, 3), "threshold": training.min_train_accuracy}),
            "adapter_size_under_limit": (adapter_mb <= training.max_adapter_mb,
                                         {"adapter_mb": round(adapter_mb, 2),
                                          "limit_mb": training.max_adapter_mb})})


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------- GRPO
def compile_grpo(job: AdapterJob, settings: Settings,
                 progress: Progress | None = None) -> dict[str, Any]:
    """GRPO from the SFT adapter with a correctness reward on paraphrased training questions,
    logged to MLflow and registered as a new version of kc-<tenant>. Returns its figures."""
    assert job.start_from is not None, "a GRPO job starts from an SFT adapter"
    with mlflow.start_run(run_name=f"grpo-{job.tenant}") as run:
        mlflow.set_tags(run_tags(job, "grpo"))
        registry.log_config({"grpo": settings.training.grpo}, "")
        # The abstentions of the reading examples teach GRPO to say "not in the documents".
        prompts = [*job.examples, *(r for r in job.reading if r.cited is None)]
        with torch_threads(settings.training.torch_threads):
            result = train_grpo(job.base, job.start_from, prompts,
                                settings=grpo_settings(settings), out_dir=job.out,
                                progress=progress, callbacks=[MLflowLoss()])
        for step, reward in result.reward_history:
            mlflow.log_metric("reward", reward, step=step)
        if result.accuracy_before is not None:
            mlflow.log_metrics({"train_accuracy_before": result.accuracy_before,
                                "train_accuracy_after": result.accuracy_after or 0.0})
        version = _register(job, run.info.run_id, result.adapter_path)
    job.mark_registered(run.info.run_id, version, result.adapter_path)
    return {"adapter_path": str(result.adapter_path), "mlflow_run_id": run.info.run_id,
            "model_version": job.version_name(version),
            "steps": result.steps, "seconds": round(result.seconds, 1),
            "accuracy_before": _round(result.accuracy_before, 3),
            "accuracy_after": _round(result.accuracy_after, 3),
            "heldout_questions_available": job.heldout}
