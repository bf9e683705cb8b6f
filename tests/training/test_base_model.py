"""kc-base: the tiny build, idempotence, determinism and loading errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.training.test_base_support import (  # noqa: F401
    one_cpu_thread,
    tiny_base,
)
from training.base_model import (
    BaseModelConfig,
    build_base_model,
    load_causal_lm,
    load_replay,
    resolve_model_path,
)
from training.curriculum import CurriculumConfig
from training.prompting import END_TOKEN
from training.trainers import COMPLETE_MARKER


def test_base_tiny_config_builds_with_marker_and_metrics() -> None:
    path = tiny_base()
    assert (path / COMPLETE_MARKER).exists()
    assert path.name == BaseModelConfig.tiny().config_hash()
    result = json.loads((path / "result.json").read_text())
    assert set(result["metrics"]) == {
        "train_templates_accuracy", "heldout_templates_accuracy", "notes_only_accuracy",
        "reading_accuracy", "reading_unknown_accuracy", "closed_book_unknown_rate"}
    assert result["train_tokens"] > 0 and result["n_examples"] > 0
    assert len(load_replay(path)) == BaseModelConfig.tiny().replay_pool
    model, tok = load_causal_lm(path)
    assert type(model).__name__ == "BertLMHeadModel" and model.config.is_decoder
    assert model.config.hidden_dropout_prob == 0.0
    assert tok.eos_token == END_TOKEN and tok.padding_side == "left"
    assert model.generation_config.eos_token_id == tok.convert_tokens_to_ids(END_TOKEN)


def test_base_build_is_idempotent_deterministic_and_replaces_unfinished(tmp_path: Path) -> None:
    again = build_base_model(BaseModelConfig.tiny(), tiny_base().parent)
    assert not again.built_now and again.path == tiny_base()
    stale = tmp_path / BaseModelConfig.tiny().config_hash()
    stale.mkdir()
    (stale / "config.json").write_text("{}")  # a build killed before its marker
    fresh = build_base_model(BaseModelConfig.tiny(), tmp_path)
    assert fresh.built_now and fresh.path == stale and (stale / COMPLETE_MARKER).exists()
    a = load_file(tiny_base() / "model.safetensors")
    b = load_file(fresh.path / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a)


@pytest.mark.parametrize("name", ["/nonexistent/kc-model", "some-org/some-model"])
def test_base_wrong_path_gives_clear_error(name: str) -> None:
    with pytest.raises(FileNotFoundError, match=f"base model '{name}' not found.*local directory"):
        load_causal_lm(name)


def test_base_directory_without_model_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no config\.json"):
        resolve_model_path(tmp_path)


def test_base_config_validation() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        BaseModelConfig(learning_rate=0.0)
    with pytest.raises(ValueError, match="n_entities"):
        CurriculumConfig(n_entities=3)
    assert BaseModelConfig(curriculum={"n_entities": 12}).curriculum.n_entities == 12
    assert BaseModelConfig().config_hash() != BaseModelConfig(seed=1).config_hash()
