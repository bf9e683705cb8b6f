"""Per-tenant model assets: the base model, the SFT adapter and the GRPO adapter, each tracked
in MLflow and registered with its lineage."""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import mlflow
from transformers import TrainerCallback

from dagster_project.defs.automation.retries import TRAINING_RETRY
from dagster_project.defs.training.assets import qa_dataset
from dagster_project.defs.training.compile import (
    heldout_pairs,
    lineage,
    training_data,
    training_rows_key,
)
from dagster_project.defs.training.mlflow_resource import MLflowTracking
from dagster_project.defs.training.partitions import TENANTS
from dagster_project.resources import KCSettings, Warehouse
from training import registry
from training.base_model import KC_BASE, BaseModelConfig, build_base_model, resolve_model_path
from training.grpo import GRPOSettings, train_grpo
from training.mlflow_model import log_adapter
from training.reader import KC_READER, ReaderConfig, build_reader
from training.sft import SFTSettings, train_sft
from training.trainers import torch_threads


class _MLflowLoss(TrainerCallback):
    """Trainer logs (loss, learning rate, ...) to the active MLflow run."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        numbers = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
        if numbers:
            mlflow.log_metrics(numbers, step=state.global_step)


def _base_path(settings) -> tuple[str, Path, BaseModelConfig | None]:
    if settings.model.base == KC_BASE:
        config = BaseModelConfig(**settings.model.base_config)
        return KC_BASE, settings.models_path / KC_BASE, config
    return settings.model.base, resolve_model_path(settings.model.base), None


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
    """The base language model: kc-base is built once per config hash and shared by tenants."""
    settings = kc_settings.load()
    model_id, out_dir, config = _base_path(settings)
    if config is None:
        return dg.MaterializeResult(metadata={"path": str(out_dir), "model": model_id,
                                              "built_now": False})
    with torch_threads(settings.training.torch_threads):
        info = build_base_model(config, out_dir, progress=_progress(context, "base"))
    mlflow_tracking.activate()
    # Registered when built, or later when a build's registration did not finish.
    if registry.version_with_tag(registry.BASE_MODEL_NAME, "base_model_hash",
                                 info.config_hash) is None:
        with mlflow.start_run(run_name=f"kc-base-{info.config_hash}") as run:
            registry.log_config(config, "base")
            mlflow.log_metrics({k: float(v) for k, v in info.metrics.items()})
            for step, loss in info.loss_history:
                mlflow.log_metric("loss", loss, step=step)
            mlflow.log_artifacts(str(info.path), artifact_path="model")
            registry.register_version(run.info.run_id, "model", registry.BASE_MODEL_NAME,
                                      registry.Lineage("", "", "", registry.project_git_sha(),
                                                       model_id, info.config_hash, "base",
                                                       "shared", ()))
    return dg.MaterializeResult(metadata={
        "path": str(info.path), "config_hash": info.config_hash, "built_now": info.built_now,
        "build_seconds": round(info.seconds, 1), "parameters": info.n_parameters,
        "metrics": dg.MetadataValue.json(info.metrics)})


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          kinds={"pytorch"})
def reader_model(context: dg.AssetExecutionContext,
                 kc_settings: KCSettings) -> dg.MaterializeResult:
    """kc-reader, the extractive reader of the context arms (when `evaluation.reader` says so):
    built once per config hash from the offline MiniLM weights on the generic curriculum."""
    settings = kc_settings.load()
    if not settings.evaluation.extractive(settings.model.base):
        return dg.MaterializeResult(metadata={"skipped": "the generator reads its own context"})
    with torch_threads(settings.training.torch_threads):
        info = build_reader(ReaderConfig.from_dict(settings.evaluation.reader_config),
                            settings.models_path / KC_READER, progress=_progress(context, "reader"))
    return dg.MaterializeResult(metadata={
        "path": str(info.path), "config_hash": info.config_hash, "built_now": info.built_now,
        "build_seconds": round(info.seconds, 1), "parameters": info.n_parameters,
        "metrics": dg.MetadataValue.json(info.metrics)})


def reader_dir(settings) -> Path | None:
    """The built kc-reader folder, or None when the generator reads its own context."""
    if not settings.evaluation.extractive(settings.model.base):
        return None
    config = ReaderConfig.from_dict(settings.evaluation.reader_config)
    return settings.models_path / KC_READER / config.config_hash()


def load_reader(settings):  # -> training.reader.ExtractiveReader | None
    """kc-reader for the context arms, or None when the generator reads its own context."""
    path = reader_dir(settings)
    if path is None:
        return None
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"the reader model is not built yet ({path}): run `kc run`")
    from training.reader import ExtractiveReader

    return ExtractiveReader.load(path)


def _built_base(settings) -> tuple[str, Path]:
    """(model id, local folder) of the base the `base_model` asset built or found."""
    model_id, base_dir, config = _base_path(settings)
    return model_id, (resolve_model_path(base_dir / config.config_hash()) if config
                      else base_dir)


def _sft_run_dir(settings, tenant: str, rows_key: str, lin: registry.Lineage) -> Path:
    """One folder per (training rows, base weights, training settings): unchanged inputs reuse
    it. Keyed on the base's content hash, not its path: moving $KC_HOME keeps the adapters."""
    return _run_dir(settings, tenant, "sft", [rows_key, lin.base_model_hash,
                                              settings.training.model_dump()])


def _grpo_run_dir(settings, tenant: str, sft_dir: Path) -> Path:
    return _run_dir(settings, tenant, "grpo", [sft_dir.name, settings.training.grpo])


def adapter_dirs(settings, tenant: str) -> tuple[Path, Path, Path | None]:
    """(base model, SFT adapter, GRPO adapter or None) of the tenant's current compile."""
    from ingestion.warehouse import connect

    model_id, base = _built_base(settings)
    with connect(settings.warehouse_path, read_only=True) as con:
        lin = lineage(con, tenant, _dataset_dir(settings, tenant), model_id, base, "sft")
        rows_key = training_rows_key(*training_data(
            con, tenant, settings.training.max_train_pairs, settings.training.max_notes))
    sft_dir = _sft_run_dir(settings, tenant, rows_key, lin)
    grpo_dir = None
    if settings.training.grpo is not None:
        grpo_dir = _grpo_run_dir(settings, tenant, sft_dir)
        grpo_dir = grpo_dir / "adapter" if (grpo_dir / "adapter").exists() else None
    return base, sft_dir / "adapter", grpo_dir


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


def _run_dir(settings, tenant: str, stage: str, payload: object) -> Path:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return settings.models_path / "adapters" / tenant / f"{stage}-{digest.hexdigest()[:12]}"


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          deps=[base_model, qa_dataset], kinds={"pytorch", "mlflow"},
          check_specs=[dg.AssetCheckSpec("loss_decreased", asset="sft_adapter", blocking=True),
                       dg.AssetCheckSpec("train_accuracy_above_threshold", asset="sft_adapter"),
                       dg.AssetCheckSpec("adapter_size_under_limit", asset="sft_adapter")])
def sft_adapter(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                warehouse: Warehouse, mlflow_tracking: MLflowTracking):
    """LoRA SFT on the tenant's QA pairs and study notes (plus curriculum replay), registered
    as a new version of kc-<tenant> with its lineage."""
    tenant = context.partition_key
    settings = kc_settings.load()
    model_id, base = _built_base(settings)
    sft = SFTSettings.from_dict(dict(settings.training.sft))
    with warehouse.connect(read_only=True) as con:
        examples, notes = training_data(con, tenant, settings.training.max_train_pairs,
                                        settings.training.max_notes)
        lin = lineage(con, tenant, _dataset_dir(settings, tenant), model_id, base, "sft")
    if not examples:
        raise dg.Failure(f"tenant {tenant}: no training pairs (no static content routed, or "
                         "synthesis produced none); see `kc routes` and the qa_dataset checks")
    out = _sft_run_dir(settings, tenant, training_rows_key(examples, notes), lin)
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
        registry.log_config({"sft": settings.training.sft, "pairs": len(examples),
                             "notes": len(notes)}, "")
        with torch_threads(settings.training.torch_threads):
            result = train_sft(base, examples, notes, settings=sft, out_dir=out,
                               progress=_progress(context, "sft"), callbacks=[_MLflowLoss()])
        mlflow.log_metrics({"tokens_per_second": result.tokens_per_second,
                            "train_seconds": result.train_seconds,
                            "train_accuracy": result.train_accuracy or 0.0,
                            "adapter_mb": result.adapter_bytes / 2**20,
                            "trainable_parameters": result.trainable_parameters})
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
        "pairs": len(examples), "notes": len(notes), "replay_rows": result.n_replay,
        "train_accuracy": result.train_accuracy, "tokens_per_second": result.tokens_per_second,
        "train_seconds": round(result.train_seconds, 1), "adapter_mb": round(adapter_mb, 2),
        "trainable_parameters": result.trainable_parameters, "cached": result.cached,
        "loss_first_last": dg.MetadataValue.json(losses[:1] + losses[-1:])})
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
    model_id, base = _built_base(settings)
    grpo = GRPOSettings.from_dict(dict(settings.training.grpo))
    with warehouse.connect(read_only=True) as con:
        examples, notes = training_data(con, tenant, settings.training.max_train_pairs,
                                        settings.training.max_notes)
        lin = lineage(con, tenant, _dataset_dir(settings, tenant), model_id, base, "grpo")
        heldout = heldout_pairs(con, tenant)
    sft_dir = _sft_run_dir(settings, tenant, training_rows_key(examples, notes), lin)
    out = _grpo_run_dir(settings, tenant, sft_dir)
    done = _registered(out)
    if done:
        return dg.MaterializeResult(metadata={**done, "cached": True})
    mlflow_tracking.activate()
    with mlflow.start_run(run_name=f"grpo-{tenant}") as run:
        registry.log_config({"grpo": settings.training.grpo}, "")
        with torch_threads(settings.training.torch_threads):
            result = train_grpo(base, sft_dir / "adapter", examples, settings=grpo,
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
