"""Keep the stack from calling home. Applied by every entry point (kc, Dagster, tests)."""

import os

OFFLINE_ENV = {
    "DO_NOT_TRACK": "true",  # unstructured, dagster and others honour it
    "SCARF_NO_ANALYTICS": "true",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "TOKENIZERS_PARALLELISM": "false",
    # Not telemetry, but noise: per-dataset progress bars in every training run's log (the
    # trainers report progress through Dagster and MLflow instead).
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}


def apply_offline_defaults() -> None:
    """Set the opt-outs unless the user set them explicitly."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
