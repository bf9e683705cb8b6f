"""Knowledge capacity of an adapter, in bits per trainable parameter."""

from __future__ import annotations


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
