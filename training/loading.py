"""Loading a registered model: base + LoRA adapter, ready to answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_adapter(base: str | Path, adapter_dir: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer): the base causal LM with the adapter applied, in eval mode."""
    from peft import PeftModel

    from training.base_model import load_causal_lm

    adapter = Path(adapter_dir)
    if not (adapter / "adapter_config.json").exists():
        raise FileNotFoundError(f"{adapter} holds no LoRA adapter (adapter_config.json missing)")
    model, tok = load_causal_lm(base)
    model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, tok


def registered_paths(model_uri: str) -> tuple[str, Path]:
    """(base model path, adapter folder) of a registered adapter version, downloaded locally.

    The base is the pyfunc's model config (`training.mlflow_model.log_adapter`), which MLflow
    writes under the flavor's `config` key; a registered base (``models:/...``) is downloaded.
    """
    import mlflow
    import yaml

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    meta = yaml.safe_load((local / "MLmodel").read_text())
    base = meta["flavors"]["python_function"]["config"]["base_model"]
    if base.startswith("models:/"):
        base = mlflow.artifacts.download_artifacts(artifact_uri=base)
    adapter = next(p for p in (local / "artifacts").iterdir() if p.is_dir())
    return base, adapter


def load_registered(model_uri: str) -> tuple[Any, Any]:
    """(model, tokenizer) of a registered adapter version, e.g. ``models:/kc-finance@champion``."""
    return load_adapter(*registered_paths(model_uri))
