import textwrap

import pytest

from ingestion.config import ingestion_config, source_specs
from settings.config import ConfigError, load_settings
from training.capacity import routing_vars


def _write(tmp_path, body: str):
    path = tmp_path / "kc.yaml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
    home: state
    sources:
      - name: eng-docs
        type: documents
        path: ${KC_HOME}/corpus/docs
        tenant: engineering
        acl_groups: [engineering]
        exclude: ["drafts/**"]
      - name: api
        type: git
        url: https://git.example/api.git
        tenant: engineering
        acl_groups: [engineering]
    users:
      alice: {groups: [engineering]}
    ingestion: {chunk_tokens: 128, chunk_overlap: 16}
"""


def test_valid_config_resolves_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("KC_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_write(tmp_path, GOOD))
    assert settings.kc_home == tmp_path / "state"
    docs, api = source_specs(settings)
    assert docs.path == tmp_path / "state" / "corpus" / "docs"
    assert docs.exclude == ("drafts/**",) and docs.acl_groups == ("engineering",)
    assert api.url == "https://git.example/api.git" and api.path is None
    assert ingestion_config(settings).chunk_tokens == 128
    assert settings.tenants == ["engineering"]


def test_kc_home_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("KC_HOME", str(tmp_path / "elsewhere"))
    settings = load_settings(_write(tmp_path, GOOD))
    assert settings.warehouse_path == tmp_path / "elsewhere" / "warehouse.duckdb"


@pytest.mark.parametrize(("body", "message"), [
    ("sources: []", "sources: List should have at least 1 item"),
    ("sources:\n  - {name: a, type: documents, path: x, acl_groups: [g]}",
     "sources.0.tenant: Field required"),
    ("sources:\n  - {name: a, type: ftp, path: x, tenant: t, acl_groups: [g]}",
     "sources.0.type: Input should be 'documents', 'git' or 'github'"),
    ("sources:\n  - {name: 'Bad Name', type: documents, path: x, tenant: t, acl_groups: [g]}",
     "sources.0.name: expected a lower-case identifier"),
    ("sources:\n  - {name: a, type: documents, tenant: t, acl_groups: [g]}",
     "give exactly one of `path` or `url`"),
    ("sources:\n  - {name: a, type: documents, path: x, tenant: t, acl_groups: [g]}\n"
     "ingestion: {chunk_tokens: 64, chunk_overlap: 40}", "chunk_overlap must be less than half"),
    ("sources:\n  - {name: a, type: documents, path: x, tenant: t, acl_groups: [g]}\n"
     "sourcez: 1", "sourcez: unknown key"),
    ("sources:\n  - {name: a, type: documents, path: x, tenant: t, acl_groups: [g]}\n"
     "  - {name: a, type: documents, path: y, tenant: t, acl_groups: [g]}",
     "duplicate source names: a"),
    ("sources: [", "not valid YAML"),
])
def test_bad_config_names_file_key_and_expectation(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_sample_config_is_valid():
    from tests.conftest import REPO_ROOT

    settings = load_settings(REPO_ROOT / "examples" / "northwind" / "kc.yaml")
    assert settings.tenants == ["engineering", "finance"]
    assert {s.type for s in settings.sources} == {"documents", "git"}


SOURCE = "home: .kc\nsources: [{name: d, type: documents, path: ., tenant: t, acl_groups: [t]}]"


def test_adapter_trainable_params_follow_the_base_and_the_lora_settings(tmp_path) -> None:
    from settings.config import load_settings

    config = tmp_path / "kc.yaml"
    config.write_text(SOURCE + "\n")
    # SmolLM2-135M: 30 layers x r x 10,176 (q/o 576+576, k/v 576+192, gate/up/down 576+1536)
    assert routing_vars(load_settings(config))["adapter_trainable_params"] == 30 * 32 * 10_176
    config.write_text(SOURCE + "\ntraining: {sft: {lora_r: 8, "
                      "layers_to_transform: [27, 28, 29]}}\n")
    assert routing_vars(load_settings(config))["adapter_trainable_params"] == 3 * 8 * 10_176
    config.write_text(SOURCE + "\npolicy: {adapter_trainable_params: 1000}\n")
    assert routing_vars(load_settings(config))["adapter_trainable_params"] == 1000
