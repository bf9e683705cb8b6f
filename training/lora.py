"""The LoRA adapter's configuration: peft's `LoraConfig` with this project's defaults.

kc.yaml's `training.sft.lora` holds `LoraConfig` fields (not re-declared here: peft documents
them); `training.config.check` builds one when a run starts, so a bad key fails then.
"""

from __future__ import annotations

from typing import Any

from peft import LoraConfig

LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def default_lora_config(**overrides: Any) -> LoraConfig:
    """peft's `LoraConfig` with this project's defaults; any `LoraConfig` field can be overridden.

    Defaults: rank 32 and alpha 32 (scale 1), no dropout (it suits memorising facts), adapters
    on every linear layer but the output embedding ('all-linear') of every decoder layer, no
    bias, a causal LM. `layers_to_transform` (decoder layers given adapters; upper layers only
    make the backward pass stop early: cheaper per token, at some cost in what the adapter
    holds) needs named modules in peft: with 'all-linear' the linear layers of a Llama block are
    named (SmolLM2 and the Llama-family bases; name them yourself for other families).

    >>> default_lora_config(r=8, layers_to_transform=[28, 29]).target_modules == set(LLAMA_LINEAR)
    True
    """
    values: dict[str, Any] = {"r": 32, "lora_alpha": 32, "lora_dropout": 0.0,
                              "target_modules": "all-linear", "bias": "none",
                              "task_type": "CAUSAL_LM", **overrides}
    if values["r"] < 1 or values["lora_alpha"] <= 0:
        raise ValueError("lora.r must be at least 1 and lora.lora_alpha positive")
    if not 0.0 <= values["lora_dropout"] < 1.0:
        raise ValueError("lora.lora_dropout must be in [0, 1)")
    if values.get("layers_to_transform") is not None and values["target_modules"] == "all-linear":
        values["target_modules"] = list(LLAMA_LINEAR)
    return LoraConfig(**values)
