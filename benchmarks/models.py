"""The model the training and answering benchmarks use: the default base, SmolLM2-135M-Instruct."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def models_dir() -> Path:
    """``$KC_HOME/models`` (``KC_HOME`` defaults to ``<repo>/.kc``, as for ``make bench``)."""
    return Path(os.environ.get("KC_HOME") or ROOT / ".kc") / "models"


def base_model(models: Path | None = None) -> tuple[Path, str]:
    """(path, label) of the default base (``training.base_model.DEFAULT_BASE``), materialised
    from its packaged GGUF under ``models`` on first use (~30 s), then reused."""
    from training.base_model import DEFAULT_BASE, resolve_model_path

    path = resolve_model_path(DEFAULT_BASE, models or models_dir())
    return path, f"{DEFAULT_BASE} {path.name}"
