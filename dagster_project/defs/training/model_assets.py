"""Per-tenant model assets: the base model, the SFT adapter and the GRPO adapter, each tracked
in MLflow and registered with its lineage."""

import json
import time
from pathlib import Path

import dagster as dg
import mlflow
from transformers import TrainerCallback

from dagster_project.defs.automation.retries import TRAINING_RETRY
from dagster_project.defs.training.assets import qa_dataset
from dagster_project.defs.training.mlflow_resource import MLflowTracking
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.resources import KCSettings, Warehouse
from settings.dbt_manifest import MANIFEST
from training import registry
from training.base_model import materialize_base
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
from training.generic import base_replay
from training.grpo import GRPOSettings, train_grpo
from training.mlflow_model import log_adapter
from training.reading import ReadingSettings, reading_examples
from training.sft import SFTSettings, train_sft
from training.trainers import torch_threads


class _MLflowLoss(TrainerCallback):
    """Trainer logs (loss, learning rate, ...) to the active MLflow run."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        numbers = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
        if numbers:
            mlflow.log_metrics(numbers, step=state.global_step)


def _progress(context: dg.AssetExecutionContext, stage: str, every_s: float = 30.0):
    """A progress callback for the libraries: logs at most every `every_s` seconds, plus the
    first and last report (a step-by-step log of a 600-step run drowns the run's events)."""
    last = [-every_s]

    def report(message: str, fraction: float | None = None, *args: object) -> None:
        now = time.monotonic()
        done = fraction is not None and fraction >= 1.0
        if now - last[0] < every_s and not done:
            return
        last[0] = now
        share = f" ({fraction:.0%})" if isinstance(fraction, float) else ""
        context.log.info(f"{stage} {context.partition_key}: {message}{share}")
    return report


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          kinds={"pytorch", "mlflow"})
def base_model(context: dg.AssetExecutionContext, kc_settings: KCSettings,
               mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    """The base language model: a packaged GGUF materialised once as safetensors (or a local
    folder), registered in MLflow as the base of every adapter's lineage."""
    settings = kc_settings.load()
    if is_packaged(settings.model.base):
        info = materialize_base(settings.model.base, settings.models_path,
                                progress=_progress(context, "base"))
    else:
        from training.base_model import describe_folder

        _, path = base_for(settings)
        info = describe_folder(path)
    # The replay rows, generated once here rather than by each tenant's SFT side by side.
    with torch_threads(settings.training.torch_threads):
        replay = base_replay(info.path)
    mlflow_tracking.activate()
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
    return dg.MaterializeResult(metadata={
        "path": str(info.path), "model": settings.model.base, "sha256": info.sha256,
        "built_now": info.built_now, "build_seconds": round(info.seconds, 1),
        "parameters": info.parameters, "window": info.window,
        "size_mb": round(info.bytes / 2**20, 1), "license": info.license,
        "replay_rows": len(replay)})


def _registered(out: Path) -> dict | None:
    marker = out / "registered.json"
    return json.loads(marker.read_text()) if marker.exists() else None


def _mark_registered(out: Path, run_id: str, name: str, version: str, adapter: Path) -> None:
    """Written after registration: a re-run with the same inputs registers nothing new."""
    (out / "registered.json").write_text(json.dumps({
        "mlflow_run_id": run_id, "model_version": f"{name}/{version}",
        "adapter_path": str(adapter)}))


def _dataset_dir(settings, tenant: str) -> Path:
    return settings.datasets_path / tenant


def _training_rows(con, settings, tenant: str) -> tuple[list, list[str], list]:
    """(closed-book pairs, notes, reading examples) of the tenant's compile."""
    examples, notes = tenant_training_data(con, settings, tenant)
    reading = reading_examples(examples, chunk_passages(con, tenant),
                               ReadingSettings(**settings.training.reading))
    return examples, notes, reading


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          deps=[base_model, qa_dataset], kinds={"pytorch", "mlflow"},
          check_specs=[dg.AssetCheckSpec("loss_decreased", asset="sft_adapter", blocking=True),
                       dg.AssetCheckSpec("train_accuracy_above_threshold", asset="sft_adapter"),
                       dg.AssetCheckSpec("adapter_size_under_limit", asset="sft_adapter")])
def sft_adapter(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                warehouse: Warehouse, mlflow_tracking: MLflowTracking):
    """LoRA SFT on the tenant's QA pairs, reading examples and notes (plus replay), registered
    as a new version of kc-<tenant> with its lineage."""
    tenant = context.partition_key
    settings = kc_settings.load()
    model_id, base = base_for(settings)
    sft = SFTSettings.from_dict(dict(settings.training.sft))
    with warehouse.connect(read_only=True) as con:
        examples, notes, reading = _training_rows(con, settings, tenant)
        lin = lineage(con, tenant, _dataset_dir(settings, tenant), model_id, base, "sft",
                      MANIFEST)
    if not examples:
        raise dg.Failure(f"tenant {tenant}: no training pairs (no static content routed, or "
                         "synthesis produced none); see `kc routes` and the qa_dataset checks")
    out = sft_run_dir(settings, tenant, training_rows_key(examples, notes), lin.base_model_hash)
    done = _registered(out)
    if done:  # same data, base and settings: the registered version stands
        yield dg.MaterializeResult(metadata={**done, "cached": True})
        for name in ("loss_decreased", "train_accuracy_above_threshold",
                     "adapter_size_under_limit"):
            yield dg.AssetCheckResult(check_name=name, passed=True,
                                      metadata={"cached": True, **done})
        return
    mlflow_tracking.activate()
    with mlflow.start_run(run_name=f"sft-{tenant}") as run:
        mlflow.set_tags({"kc.stage": "sft", "kc.tenant": tenant, "kc.base": model_id})
        registry.log_config({"sft": settings.training.sft, "pairs": len(examples),
                             "notes": len(notes), "reading": len(reading)}, "")
        with torch_threads(settings.training.torch_threads):
            result = train_sft(base, [*examples, *reading], notes, settings=sft, out_dir=out,
                               progress=_progress(context, "sft"), callbacks=[_MLflowLoss()])
        mlflow.log_metrics({"tokens_per_second": result.tokens_per_second,
                            "train_tokens": result.train_tokens,
                            "train_seconds": result.train_seconds,
                            "train_accuracy": result.train_accuracy or 0.0,
                            "adapter_mb": result.adapter_bytes / 2**20,
                            "trainable_parameters": result.trainable_parameters})
        for epoch, accuracy in result.curve:
            mlflow.log_metric("curve_accuracy", accuracy, step=round(epoch))
        artifact = log_adapter(result.adapter_path, str(base))
        version = registry.register_version(run.info.run_id, artifact,
                                            registry.registered_name(tenant), lin)
    _mark_registered(out, run.info.run_id, registry.registered_name(tenant), version.version,
                     result.adapter_path)
    losses = [loss for _, loss in result.loss_history]
    adapter_mb = result.adapter_bytes / 2**20
    yield dg.MaterializeResult(metadata={
        "adapter_path": str(result.adapter_path), "mlflow_run_id": run.info.run_id,
        "model_version": f"{registry.registered_name(tenant)}/{version.version}",
        "pairs": len(examples), "notes": len(notes), "reading_examples": len(reading),
        "replay_rows": result.n_replay, "train_tokens": result.train_tokens,
        "train_accuracy": result.train_accuracy,
        "tokens_per_second": round(result.tokens_per_second, 1),
        "train_seconds": round(result.train_seconds, 1), "adapter_mb": round(adapter_mb, 2),
        "trainable_parameters": result.trainable_parameters, "cached": result.cached,
        "loss_first_last": dg.MetadataValue.json(losses[:1] + losses[-1:]),
        "learning_curve": dg.MetadataValue.json(result.curve)})
    yield dg.AssetCheckResult(check_name="loss_decreased",
                              passed=result.cached or (len(losses) >= 2 and losses[-1] < losses[0]),
                              metadata={"first": losses[0] if losses else None,
                                        "last": losses[-1] if losses else None})
    accuracy = result.train_accuracy or 0.0
    yield dg.AssetCheckResult(check_name="train_accuracy_above_threshold",
                              passed=accuracy >= settings.training.min_train_accuracy,
                              metadata={"accuracy": accuracy,
                                        "threshold": settings.training.min_train_accuracy})
    yield dg.AssetCheckResult(check_name="adapter_size_under_limit",
                              passed=adapter_mb <= settings.training.max_adapter_mb,
                              metadata={"adapter_mb": adapter_mb,
                                        "limit_mb": settings.training.max_adapter_mb})


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          deps=[sft_adapter], kinds={"pytorch", "mlflow"})
def grpo_adapter(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                 warehouse: Warehouse, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    """GRPO from the SFT adapter with a correctness reward on paraphrased training questions."""
    tenant = context.partition_key
    settings = kc_settings.load()
    if settings.training.grpo is None:
        return dg.MaterializeResult(metadata={"skipped": "training.grpo is null in kc.yaml"})
    model_id, base = base_for(settings)
    grpo = GRPOSettings.from_dict(dict(settings.training.grpo))
    with warehouse.connect(read_only=True) as con:
        examples, notes, reading = _training_rows(con, settings, tenant)
        lin = lineage(con, tenant, _dataset_dir(settings, tenant), model_id, base, "grpo",
                      MANIFEST)
        heldout = heldout_pairs(con, tenant)
    sft_dir = sft_run_dir(settings, tenant, training_rows_key(examples, notes),
                          lin.base_model_hash)
    out = grpo_run_dir(settings, tenant, sft_dir)
    done = _registered(out)
    if done:
        return dg.MaterializeResult(metadata={**done, "cached": True})
    mlflow_tracking.activate()
    with mlflow.start_run(run_name=f"grpo-{tenant}") as run:
        mlflow.set_tags({"kc.stage": "grpo", "kc.tenant": tenant, "kc.base": model_id})
        registry.log_config({"grpo": settings.training.grpo}, "")
        # The abstentions of the reading examples teach GRPO to say "not in the documents".
        prompts = [*examples, *(r for r in reading if r.cited is None)]
        with torch_threads(settings.training.torch_threads):
            result = train_grpo(base, sft_dir / "adapter", prompts, settings=grpo,
                                out_dir=out, progress=_progress(context, "grpo"),
                                callbacks=[_MLflowLoss()])
        for step, reward in result.reward_history:
            mlflow.log_metric("reward", reward, step=step)
        if result.accuracy_before is not None:
            mlflow.log_metrics({"train_accuracy_before": result.accuracy_before,
                                "train_accuracy_after": result.accuracy_after or 0.0})
        artifact = log_adapter(result.adapter_path, str(base))
        version = registry.register_version(run.info.run_id, artifact,
                                            registry.registered_name(tenant), lin)
    _mark_registered(out, run.info.run_id, registry.registered_name(tenant), version.version,
                     result.adapter_path)
    return dg.MaterializeResult(metadata={
        "adapter_path": str(result.adapter_path), "mlflow_run_id": run.info.run_id,
        "model_version": f"{registry.registered_name(tenant)}/{version.version}",
        "steps": result.steps, "seconds": round(result.seconds, 1),
        "accuracy_before": result.accuracy_before, "accuracy_after": result.accuracy_after,
        "heldout_questions_available": len(heldout)})
