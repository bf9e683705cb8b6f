"""kc.yaml's `training` section as the training library's own configs (dataclasses with their
validation). kc.yaml's sections (`settings.training`) are typed at load time and hold only the
keys given; the defaults and the checks of the values are the library's. `check` builds each
cheap one once, so a bad value fails when a run starts, naming the file and the key, not hours
later in the stage that reads it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from settings.config import ConfigError, Settings
from training.reading import ReadingSettings
from training.synthesis import NaturalPlan, NaturalQuestionConfig, SynthesisConfig, TeacherConfig
from training.synthesis.teacher import teacher_backend


def synthesis_config(settings: Settings) -> SynthesisConfig:
    return SynthesisConfig(**settings.training.synthesis.model_dump())


def teacher_config(settings: Settings) -> TeacherConfig | None:
    teacher = settings.training.teacher
    return TeacherConfig(**teacher.model_dump()) if teacher is not None else None


def reading_settings(settings: Settings) -> ReadingSettings:
    return ReadingSettings(**settings.training.reading.model_dump())


def natural_config(settings: Settings) -> NaturalQuestionConfig:
    return NaturalQuestionConfig(**settings.training.natural.model_dump())


def natural_plan(settings: Settings) -> NaturalPlan | None:
    """Who writes the tenant's natural questions and who checks them; None when off. The
    reader is always the base: a question is kept when the model the adapter is trained on
    can answer it from the fact's evidence."""
    config = natural_config(settings)
    if not config.enabled:
        return None
    from training.base_model import load_causal_lm
    from training.compile_inputs import base_for, base_hash
    from training.synthesis.writers import EndpointQuestionWriter, LocalQuestionWriter, local_reader

    model_id, base = base_for(settings)
    model, tok = load_causal_lm(base)
    if config.writer == "base":
        writer = LocalQuestionWriter(model, tok, f"{model_id}@{base_hash(base)[:12]}", config)
    elif config.writer == "teacher":
        teacher = teacher_config(settings)
        if teacher is None:
            raise ConfigError(f"{settings.config_path}: training.natural.writer is 'teacher' "
                              "but training.teacher is not set")
        writer = EndpointQuestionWriter(teacher_backend(teacher))
    else:
        path = settings.resolve_path(config.writer)
        writer_model, writer_tok = load_causal_lm(path)
        writer = LocalQuestionWriter(writer_model, writer_tok, f"{path.name}@"
                                     f"{base_hash(path)[:12]}", config)
    t = settings.training
    budget = (math.ceil(t.max_train_pairs / (t.max_pairs_per_fact or 1))
              if t.max_train_pairs else None)
    return NaturalPlan(writer, config, local_reader(model, tok), config.max_facts or budget)


def sft_settings(settings: Settings):  # -> training.sft.SFTSettings (imports trl: lazily)
    from training.sft import SFTSettings

    return SFTSettings.from_dict(settings.training.sft.model_dump())


def grpo_settings(settings: Settings):  # -> training.grpo.GRPOSettings | None
    from training.grpo import GRPOSettings

    grpo = settings.training.grpo
    return GRPOSettings.from_dict(grpo.model_dump()) if grpo is not None else None


def lora_config(settings: Settings):  # -> peft.LoraConfig | None (imports peft: lazily)
    """The adapter's LoraConfig when kc.yaml sets `training.sft.lora` (None: the defaults)."""
    lora = settings.training.sft.lora
    if lora is None:
        return None
    from training.lora import default_lora_config

    return default_lora_config(**lora.model_dump())


def check(settings: Settings) -> Settings:
    """Build the sections that are cheap to build (not sft/grpo: they import trl; but the LoRA
    settings, with peft, when kc.yaml gives any); a bad key or value raises ConfigError naming
    the file and the section."""
    sections: dict[str, Callable[[Settings], Any]] = {
        "synthesis": synthesis_config, "teacher": teacher_config, "reading": reading_settings,
        "natural": natural_config, "sft.lora": lora_config}
    for key, build in sections.items():
        try:
            build(settings)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{settings.config_path}: training.{key}: {exc}") from None
    return settings
