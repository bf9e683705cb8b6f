"""`runtime.prepare` writes a local Dagster instance whose UI opens without the first-visit
pop-up, and adds that setting to an instance written before it existed."""

import dagster as dg
import pytest

from knowledge_compiler.runtime import prepare


@pytest.fixture
def config(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    path = tmp_path / "kc.yaml"
    path.write_text(f"home: {tmp_path / 'home'}\nsources:\n"
                    f"  - {{name: d, type: documents, path: {docs}, tenant: eng, "
                    "acl_groups: [eng]}\n")
    monkeypatch.delenv("KC_HOME", raising=False)
    for key in ("KC_CONFIG", "KC_WAREHOUSE", "DAGSTER_HOME"):
        monkeypatch.setenv(key, "")  # prepare() exports these: restore them afterwards
    return path


def test_new_instance_has_no_first_visit_popup(config):
    settings = prepare(config)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False


def test_an_older_instance_gets_the_setting_once(config):
    home = config.parent / "home" / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    settings = prepare(config)
    prepare(config)
    text = (settings.dagster_home / "dagster.yaml").read_text()
    assert text == "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
