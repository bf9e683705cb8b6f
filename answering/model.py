"""A loaded answering model: the base, with the tenant's LoRA adapter when it has one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settings.config import Settings


@dataclass
class AnsweringModel:
    """A loaded causal LM, its tokenizer and its window (maximum positions)."""

    model: Any
    tokenizer: Any
    window: int
    name: str = "model"

    @classmethod
    def load(cls, base_path: str | Path, adapter_dir: str | Path | None = None,
             name: str | None = None) -> AnsweringModel:
        """The base model at `base_path`, with the LoRA adapter in `adapter_dir` if given."""
        from training.base_model import load_causal_lm

        model, tok = load_causal_lm(base_path)
        if adapter_dir is not None:
            from peft import PeftModel

            if not Path(adapter_dir).is_dir():
                raise FileNotFoundError(f"adapter directory {adapter_dir} does not exist")
            model = PeftModel.from_pretrained(model, str(adapter_dir))
            model.eval()
        label = name or (Path(adapter_dir).parent.name if adapter_dir else Path(base_path).name)
        return cls(model, tok, model_window(model), label)

    @classmethod
    def registered(cls, model_uri: str, name: str) -> AnsweringModel:
        """A registered adapter version with its base, e.g. ``models:/kc-finance@champion``."""
        from training.loading import load_registered

        model, tok = load_registered(model_uri)
        return cls(model, tok, model_window(model), name)


def model_window(model: Any) -> int:
    """The most positions the model takes (max_position_embeddings, n_positions, ...)."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError(f"cannot tell the window of {type(model).__name__}: its config has no "
                     "max_position_embeddings; pass AnsweringModel(window=...)")


class NoChampion(LookupError):
    """The tenant has no `@champion` adapter yet (no compile was promoted)."""


def tenant_model(settings: Settings, tenant: str, arm: str) -> AnsweringModel:
    """The model `kc ask` answers with: the tenant's champion adapter for every arm but `base`
    (one model remembers and reads); the base alone for `base`, and for the context arms while
    there is no champion. Raises NoChampion for the arms that need the adapter."""
    from training import registry
    from training.compile_inputs import base_for

    registry.Tracking.local(settings.kc_home).activate()
    name = registry.registered_name(tenant)
    if arm != "base" and registry.champion_version(name) is not None:
        return AnsweringModel.registered(f"models:/{name}@{registry.CHAMPION}", name)
    if arm in ("compiled", "hybrid"):
        raise NoChampion(f"no champion model for tenant {tenant} yet: run `kc run`")
    return AnsweringModel.load(base_for(settings)[1], name=settings.model.base)
