"""Per-tenant model assets: the base model, the SFT adapter and the GRPO adapter, each tracked
in MLflow and registered with its lineage (`training.compile`)."""

import time

import dagster as dg

from dagster_project.defs.automation.retries import TRAINING_RETRY
from dagster_project.defs.training.assets import qa_dataset
from dagster_project.defs.training.mlflow_resource import MLflowTracking
from dagster_project.defs.training.partitions import TENANTS, tenant_check
from dagster_project.resources import KCSettings, Warehouse
from settings.dbt_manifest import MANIFEST
from training.compile import SFT_CHECKS, adapter_job, compile_base, compile_grpo, compile_sft


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
    mlflow_tracking.activate()
    return dg.MaterializeResult(metadata=compile_base(settings, _progress(context, "base")))


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          deps=[base_model, qa_dataset], kinds={"pytorch", "mlflow"},
          check_specs=[tenant_check("loss_decreased", "sft_adapter", blocking=True),
                       tenant_check("train_accuracy_above_threshold", "sft_adapter"),
                       tenant_check("adapter_size_under_limit", "sft_adapter")])
def sft_adapter(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                warehouse: Warehouse, mlflow_tracking: MLflowTracking):
    """LoRA SFT on the tenant's QA pairs, reading examples and notes (plus replay), registered
    as a new version of kc-<tenant> with its lineage."""
    tenant, settings = context.partition_key, kc_settings.load()
    with warehouse.connect(read_only=True) as con:
        job = adapter_job(con, settings, tenant, "sft", MANIFEST)
    if not job.examples:
        raise dg.Failure(f"tenant {tenant}: no training pairs (no static content routed, or "
                         "synthesis produced none); see `kc routes` and the qa_dataset checks")
    done = job.registered()
    if done:  # same data, base and settings: the registered version stands
        yield dg.MaterializeResult(metadata={**done, "cached": True})
        for name in SFT_CHECKS:
            yield dg.AssetCheckResult(check_name=name, passed=True,
                                      metadata={"cached": True, **done})
        return
    mlflow_tracking.activate()
    outcome = compile_sft(job, settings, progress=_progress(context, "sft"))
    yield dg.MaterializeResult(metadata={
        **outcome.metadata,
        "loss_first_last": dg.MetadataValue.json(outcome.metadata["loss_first_last"]),
        "learning_curve": dg.MetadataValue.json(outcome.metadata["learning_curve"])})
    for name in SFT_CHECKS:
        passed, metadata = outcome.checks[name]
        yield dg.AssetCheckResult(check_name=name, passed=passed, metadata=metadata)


@dg.asset(partitions_def=TENANTS, group_name="training", retry_policy=TRAINING_RETRY,
          deps=[sft_adapter], kinds={"pytorch", "mlflow"})
def grpo_adapter(context: dg.AssetExecutionContext, kc_settings: KCSettings,
                 warehouse: Warehouse, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    """GRPO from the SFT adapter with a correctness reward on paraphrased training questions."""
    tenant, settings = context.partition_key, kc_settings.load()
    if settings.training.grpo is None:
        return dg.MaterializeResult(metadata={"skipped": "training.grpo is null in kc.yaml"})
    with warehouse.connect(read_only=True) as con:
        job = adapter_job(con, settings, tenant, "grpo", MANIFEST)
    done = job.registered()
    if done:
        return dg.MaterializeResult(metadata={**done, "cached": True})
    mlflow_tracking.activate()
    return dg.MaterializeResult(metadata=compile_grpo(job, settings,
                                                      progress=_progress(context, "grpo")))
