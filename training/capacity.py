"""Knowledge capacity of an adapter, in bits per trainable parameter."""

from __future__ import annotations

import json
import os
from pathlib import Path


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


# The routing capacity budget uses a measured figure only from an adapter that learnt its
# training questions: an under-trained adapter measures the training budget, not the capacity
# (measured here: 2 LoRA epochs reached 0.50 train accuracy and 0.006 bits/parameter).
CONVERGED_TRAIN_ACCURACY = 0.9
MEASURED_FILE = "capacity.json"


def record_measurement(home: Path, tenant: str, figures: dict,
                       train_accuracy: float | None) -> bool:
    """Keep the tenant's measured bits/parameter under `home` when the adapter converged;
    returns whether it was kept (the figures are reported either way)."""
    path = Path(home) / MEASURED_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    converged = (train_accuracy is not None and train_accuracy >= CONVERGED_TRAIN_ACCURACY
                 and figures.get("bits_per_parameter", 0) > 0)
    if converged:
        data[tenant] = {"bits_per_parameter": figures["bits_per_parameter"],
                        "train_accuracy": train_accuracy}
    else:
        data.pop(tenant, None)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return converged


def measured_bits_per_parameter(home: Path) -> float | None:
    """The smallest converged tenant measurement (one budget rule for all tenants), or None."""
    path = Path(home) / MEASURED_FILE
    if not path.exists():
        return None
    values = [v["bits_per_parameter"] for v in json.loads(path.read_text()).values()]
    return min(values) if values else None
