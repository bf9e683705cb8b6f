"""The MLflow model of a tenant adapter: a LoRA adapter over a base model, answering questions.

Only the adapter (a few MB) is stored in each version; the base model is referenced by path or
by its own registered version (``models:/kc-base/<n>``), so versions stay small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature

ADAPTER_ARTIFACT = "adapter"
INPUT_EXAMPLE = pd.DataFrame({"question": ["Who owns the payments gateway?"]})


class AdapterModel(mlflow.pyfunc.PythonModel):
    """pyfunc: a DataFrame with a `question` column in, an `answer` column out."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        from training.loading import load_adapter

        base = context.model_config["base_model"]
        if base.startswith("models:/"):
            base = mlflow.artifacts.download_artifacts(artifact_uri=base)
        self.model, self.tokenizer = load_adapter(base, context.artifacts[ADAPTER_ARTIFACT])
        self.max_new_tokens = int(context.model_config.get("max_new_tokens", 16))

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        from training.generate import answer

        answers = answer(self.model, self.tokenizer, list(model_input["question"]),
                         max_new_tokens=self.max_new_tokens)
        return pd.DataFrame({"answer": answers})


def log_adapter(adapter_dir: Path, base_model: str, *, max_new_tokens: int = 16) -> str:
    """Log an adapter as a pyfunc model in the active run; returns the artifact name."""
    signature = infer_signature(INPUT_EXAMPLE, pd.DataFrame({"answer": ["priya raman"]}))
    mlflow.pyfunc.log_model(
        name=ADAPTER_ARTIFACT, python_model=AdapterModel(),
        artifacts={ADAPTER_ARTIFACT: str(adapter_dir)},
        model_config={"base_model": base_model, "max_new_tokens": max_new_tokens},
        signature=signature, input_example=INPUT_EXAMPLE,
        pip_requirements=["torch==2.13.0", "transformers", "peft", "pandas"])
    return ADAPTER_ARTIFACT
