"""The model the training and answering benchmarks use: the built kc-base when present."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def base_model(work: Path) -> tuple[Path, str]:
    """(path, label): ``$KC_HOME/models/kc-base/<hash>`` of the default config if it was built,
    else a ``BaseModelConfig.tiny()`` build under ``work`` (same architecture, so the same
    speed; it knows little, which timing does not need)."""
    from training.base_model import KC_BASE, BaseModelConfig, build_base_model
    from training.trainers import COMPLETE_MARKER

    home = Path(os.environ.get("KC_HOME") or ROOT / ".kc")
    built = home / "models" / KC_BASE / BaseModelConfig().config_hash()
    if (built / COMPLETE_MARKER).exists():
        return built, f"kc-base {built.name}"
    info = build_base_model(BaseModelConfig.tiny(), work / "models")
    return info.path, f"tiny kc-base {info.config_hash} (no built kc-base under {home})"
