"""A compile's measured bits/parameter is a lower bound: it may raise the routing budget, never
lower it (lowering it would overflow what the adapter had just learnt, round after round)."""

from pathlib import Path

from settings.config import load_settings
from training.capacity import (
    budget_bits_per_parameter,
    measured_bits_per_parameter,
    record_measurement,
    routing_vars,
)


def test_measurements_raise_the_budget_never_lower_it(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "kc.yaml"
    source = (f"sources: [{{name: docs, type: documents, path: {tmp_path}, tenant: eng, "
              "acl_groups: [eng]}]\n")
    config.write_text(f"home: {home}\n{source}")
    monkeypatch.delenv("KC_HOME", raising=False)
    settings = load_settings(config)
    assert routing_vars(settings)["bits_per_param"] == 2.0  # the anchor
    assert measured_bits_per_parameter(home) is None
    assert record_measurement(home, "eng", {"bits_per_parameter": 0.013}, 0.92)
    assert measured_bits_per_parameter(home) == 0.013
    assert routing_vars(settings)["bits_per_param"] == 2.0  # a small lower bound changes nothing
    assert record_measurement(home, "fin", {"bits_per_parameter": 2.6}, 0.99)
    assert measured_bits_per_parameter(home) == 2.6  # the best any adapter demonstrated
    assert routing_vars(settings)["bits_per_param"] == 2.6
    assert not record_measurement(home, "fin", {"bits_per_parameter": 0.0}, 0.1)
    assert routing_vars(settings)["bits_per_param"] == 2.0
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(f"home: {home}\n{source}policy: {{bits_per_param: 1.5}}\n")
    assert routing_vars(load_settings(pinned))["bits_per_param"] == 1.5  # kc.yaml wins


def test_budget_rule() -> None:
    assert budget_bits_per_parameter(2.0, None) == 2.0
    assert budget_bits_per_parameter(2.0, 0.5) == 2.0
    assert budget_bits_per_parameter(2.0, 3.0) == 3.0
