"""Knowledge capacity of an adapter, in bits per trainable parameter."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from settings.config import Settings
from settings.routing_policy import SourcePolicy, dbt_vars


def bits_per_parameter(facts_recalled: float, bits_per_fact: float, trainable_params: int) -> float:
    """Bits of recalled knowledge per trainable parameter: facts x bits per fact / parameters.

    Compare with about 2 bits/parameter for extractable knowledge after ~1000 exposures
    (Allen-Zhu & Li, Physics of Language Models 3.3).

    >>> bits_per_parameter(200, 20.0, 675_840)
    0.005918560606060606
    """
    if trainable_params <= 0:
        raise ValueError(f"trainable_params must be positive, got {trainable_params}")
    if facts_recalled < 0 or bits_per_fact < 0:
        raise ValueError("facts_recalled and bits_per_fact must not be negative")
    return facts_recalled * bits_per_fact / trainable_params


# What one compile measures is a lower bound on the adapter's capacity: the bits it recalled of
# the facts it was given, not what it could hold (on the sample corpus a converged adapter,
# 0.92 training accuracy, recalls ~0.013 bits/parameter of its 461 facts). Used as the routing
# budget, that figure would overflow the facts the adapter had just learnt, the next compile
# would train on fewer and measure less: a spiral down. So a measurement may raise the budget
# above the anchor, never lower it.
MEASURED_FILE = "capacity.json"


def record_measurement(home: Path, tenant: str, figures: dict,
                       train_accuracy: float | None) -> bool:
    """Keep the tenant's measured bits/parameter (a lower bound on capacity) under `home`;
    returns whether it was kept (a positive figure)."""
    path = Path(home) / MEASURED_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    kept = figures.get("bits_per_parameter", 0) > 0
    if kept:
        data[tenant] = {"bits_per_parameter": figures["bits_per_parameter"],
                        "train_accuracy": train_accuracy}
    else:
        data.pop(tenant, None)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return kept


def measured_bits_per_parameter(home: Path) -> float | None:
    """The largest tenant measurement (the best lower bound any adapter demonstrated), or None."""
    path = Path(home) / MEASURED_FILE
    if not path.exists():
        return None
    values = [v["bits_per_parameter"] for v in json.loads(path.read_text()).values()]
    return max(values) if values else None


def budget_bits_per_parameter(anchor: float, measured: float | None) -> float:
    """The routing budget's bits per parameter: the anchor, or a larger measured lower bound.

    >>> budget_bits_per_parameter(2.0, 0.013), budget_bits_per_parameter(2.0, 2.6)
    (2.0, 2.6)
    """
    return anchor if measured is None else max(anchor, measured)


def lora_trainable_parameters(config: dict, r: int,
                              layers: list[int] | None = None) -> int | None:
    """LoRA parameters of an adapter of rank `r` on every linear layer of a Llama-style block
    (q, k, v, o, gate, up, down: r x (inputs + outputs) each), over `layers` (None: all).
    None when `config` lacks the dimensions (another architecture).

    >>> lora_trainable_parameters({"hidden_size": 576, "intermediate_size": 1536,
    ...     "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3}, 16)
    4884480
    """
    try:
        hidden, inner = int(config["hidden_size"]), int(config["intermediate_size"])
        n_layers, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    except (KeyError, TypeError):
        return None
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    per_layer = ((hidden + q_out) + 2 * (hidden + kv_out) + (q_out + hidden)
                 + 3 * (hidden + inner))
    n = n_layers if layers is None else len(layers)
    return r * per_layer * n


def adapter_trainable_params(settings: Settings) -> int | None:
    """LoRA parameters of a tenant's adapter, from the base's dimensions and the SFT
    settings (rank, layers); None for an architecture whose dimensions are unknown."""
    from training.base_model import base_dimensions
    from training.config import sft_settings

    sft = sft_settings(settings)
    layers = sft.lora.layers_to_transform
    return lora_trainable_parameters(base_dimensions(settings.model.base), sft.lora.r,
                                     [layers] if isinstance(layers, int) else layers)


def routing_vars(settings: Settings, as_of: datetime | None = None) -> dict:
    """kc.yaml's routing policy as dbt ``--vars`` (DESIGN.md, "Routing policy"), with the
    capacity that compiles measured and the adapter's size fed back where kc.yaml is silent."""
    per_source = [SourcePolicy(source_id=s.name, min_stable_days=s.min_stable_days,
                               max_changes_90d=s.max_changes_90d)
                  for s in settings.sources
                  if s.min_stable_days is not None or s.max_changes_90d is not None]
    policy = settings.policy
    if "bits_per_param" not in policy.model_fields_set:
        # Unless kc.yaml sets it, a measurement above the anchor raises it (a compile
        # measures a lower bound on capacity, see MEASURED_FILE).
        bits = budget_bits_per_parameter(policy.bits_per_param,
                                         measured_bits_per_parameter(settings.kc_home))
        policy = policy.model_copy(update={"bits_per_param": bits})
    if "adapter_trainable_params" not in policy.model_fields_set:
        trainable = adapter_trainable_params(settings)
        if trainable:
            policy = policy.model_copy(update={"adapter_trainable_params": trainable})
    return dbt_vars(policy, overrides=settings.route_overrides, source_policies=per_source,
                    as_of=as_of)
