"""kc.yaml's `training` section as the training library's own configs (dataclasses with their
validation). `check` builds each of them once, so a bad key fails when a run starts, naming the
file and the key, not hours later in the stage that reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from settings.config import ConfigError, Settings
from training.reading import ReadingSettings
from training.synthesis import SynthesisConfig, TeacherConfig


def synthesis_config(settings: Settings) -> SynthesisConfig:
    return SynthesisConfig(**settings.training.synthesis)


def teacher_config(settings: Settings) -> TeacherConfig | None:
    teacher = settings.training.teacher
    return TeacherConfig(**teacher) if teacher is not None else None


def reading_settings(settings: Settings) -> ReadingSettings:
    return ReadingSettings(**settings.training.reading)


def sft_settings(settings: Settings):  # -> training.sft.SFTSettings (imports trl: lazily)
    from training.sft import SFTSettings

    return SFTSettings.from_dict(dict(settings.training.sft))


def grpo_settings(settings: Settings):  # -> training.grpo.GRPOSettings | None
    from training.grpo import GRPOSettings

    grpo = settings.training.grpo
    return GRPOSettings.from_dict(dict(grpo)) if grpo is not None else None


def check(settings: Settings) -> Settings:
    """Build the sections that are cheap to build (not sft/grpo: they import trl); a bad key
    or value raises ConfigError naming the file and the section."""
    sections: dict[str, Callable[[Settings], Any]] = {
        "synthesis": synthesis_config, "teacher": teacher_config, "reading": reading_settings}
    for key, build in sections.items():
        try:
            build(settings)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{settings.config_path}: training.{key}: {exc}") from None
    return settings
