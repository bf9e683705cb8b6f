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


ONE_SOURCE = "sources:\n  - {name: a, type: documents, path: x, tenant: t, acl_groups: [g]}\n"


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
    (ONE_SOURCE + "training: {synthesis: {paraphrases: 6}}",
     "training.synthesis.paraphrases: unknown key"),
    (ONE_SOURCE + "training: {reading: {share: lots}}",
     "training.reading.share: Input should be a valid number"),
    (ONE_SOURCE + "training: {sft: {lora: {r: eight}}}",
     "training.sft.lora.r: Input should be a valid integer"),
    (ONE_SOURCE + "training: {sft: {lora_r: 8, layers_to_transform: [1]}}",
     "training.sft: Value error, LoRA keys moved under `lora:` (peft's LoraConfig names): "
     "lora_r -> lora.r, layers_to_transform -> lora.layers_to_transform"),
    (ONE_SOURCE + "training: {teacher: {api_key_env: sk-123}}",
     "training.teacher.api_key_env: String should match pattern"),
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
    config.write_text(SOURCE + "\ntraining: {sft: {lora: {r: 8, "
                      "layers_to_transform: [27, 28, 29]}}}\n")
    assert routing_vars(load_settings(config))["adapter_trainable_params"] == 3 * 8 * 10_176
    config.write_text(SOURCE + "\npolicy: {adapter_trainable_params: 1000}\n")
    assert routing_vars(load_settings(config))["adapter_trainable_params"] == 1000


@pytest.mark.parametrize(("training", "message"), [
    ("{synthesis: {paraphrases_per_fact: 2}}",
     "training.synthesis: invalid SynthesisConfig: paraphrases_per_fact must be at least 5"),
    ("{reading: {share: 2.0}}", "training.reading: share and absent_share must be in [0, 1]"),
    ("{sft: {lora: {lora_dropout: 1.5}}}", "training.sft.lora: lora.lora_dropout must be in"),
    ("{sft: {lora: {lora_alph: 16}}}", "training.sft.lora: "),  # any other key: peft's check
])
def test_training_values_are_checked_by_the_library_when_a_run_starts(tmp_path, training,
                                                                      message) -> None:
    from training.config import check

    path = _write(tmp_path, SOURCE + f"\ntraining: {training}\n")
    with pytest.raises(ConfigError) as info:
        check(load_settings(path))
    assert str(info.value).startswith(f"{path}: {message}")
    assert "\n" not in str(info.value)


def test_training_sections_hold_the_library_fields_and_only_the_keys_given(tmp_path) -> None:
    """Each kc.yaml section lists its library class's fields (defaults stay the library's:
    a key left out is not passed on)."""
    import dataclasses

    from settings import training as sections
    from training.config import sft_settings
    from training.grpo import GRPOSettings
    from training.reading import ReadingSettings
    from training.sft import SFTSettings
    from training.synthesis import NaturalQuestionConfig, SynthesisConfig, TeacherConfig

    pairs = [(sections.SynthesisSection, SynthesisConfig), (sections.TeacherSection,
             TeacherConfig), (sections.ReadingSection, ReadingSettings),
             (sections.NaturalSection, NaturalQuestionConfig), (sections.SFTSection, SFTSettings),
             (sections.GRPOSection, GRPOSettings)]
    for section, library in pairs:
        assert set(section.model_fields) == {f.name for f in dataclasses.fields(library)}, library
    settings = load_settings(_write(tmp_path, SOURCE + "\ntraining: {sft: {replay_share: 0.1, "
                                    "lora: {r: 8, use_rslora: true}}}\n"))
    assert settings.training.model_dump()["sft"] == {"replay_share": 0.1,
                                                     "lora": {"r": 8, "use_rslora": True}}
    assert settings.training.model_dump()["synthesis"] == {}
    sft = sft_settings(settings)
    assert (sft.lora.r, sft.lora.lora_alpha, sft.lora.use_rslora) == (8, 32, True)
    assert sft.eval_questions == SFTSettings().eval_questions
