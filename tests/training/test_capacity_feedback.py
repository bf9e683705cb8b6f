"""A converged adapter's measured bits/parameter becomes the routing budget's; others do not."""

from pathlib import Path

from knowledge_compiler.settings import load_settings
from training.capacity import measured_bits_per_parameter, record_measurement


def test_only_converged_measurements_feed_routing(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "kc.yaml"
    source = (f"sources: [{{name: docs, type: documents, path: {tmp_path}, tenant: eng, "
              "acl_groups: [eng]}]\n")
    config.write_text(f"home: {home}\n{source}")
    monkeypatch.delenv("KC_HOME", raising=False)
    settings = load_settings(config)
    assert settings.dbt_vars()["bits_per_param"] == 2.0  # the anchor
    assert not record_measurement(home, "eng", {"bits_per_parameter": 0.006}, 0.5)
    assert measured_bits_per_parameter(home) is None
    assert record_measurement(home, "eng", {"bits_per_parameter": 0.3}, 0.95)
    assert record_measurement(home, "fin", {"bits_per_parameter": 0.2}, 0.92)
    assert measured_bits_per_parameter(home) == 0.2  # the smallest: one rule for all
    assert settings.dbt_vars()["bits_per_param"] == 0.2
    assert not record_measurement(home, "fin", {"bits_per_parameter": 0.1}, 0.4)  # regressed
    assert settings.dbt_vars()["bits_per_param"] == 0.3
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(f"home: {home}\n{source}policy: {{bits_per_param: 1.5}}\n")
    assert load_settings(pinned).dbt_vars()["bits_per_param"] == 1.5  # kc.yaml wins
