"""The adapter folder is what GPU multi-LoRA servers load (vLLM `--enable-lora`, LoRAX): PEFT's
`adapter_config.json` and `adapter_model.safetensors`, checked structurally here (neither server
runs on this machine; docs/scaling.md, "Serving on GPUs")."""

from __future__ import annotations

import json
import re
from pathlib import Path

from safetensors import safe_open

from tests.training.test_base_support import one_cpu_thread, tiny_base  # noqa: F401
from training.lora import LLAMA_LINEAR
from training.sft import SFTSettings

# The LoRA target modules vLLM supports for Llama-family models (its LlamaForCausalLM
# packed_modules_mapping and supported modules: qkv_proj, o_proj, gate_up_proj, down_proj, whose
# parts are the PEFT names below).
VLLM_LLAMA_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
KEY = re.compile(r"^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\."
                 r"(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.lora_[AB]\.weight$")


def _export(tmp_path: Path, settings: SFTSettings) -> Path:
    from peft import get_peft_model

    from training.base_model import load_causal_lm

    model, _ = load_causal_lm(tiny_base())
    out = tmp_path / "adapter"
    get_peft_model(model, settings.lora).save_pretrained(out)
    return out


def test_adapter_folder_is_what_multi_lora_servers_load(tmp_path: Path) -> None:
    out = _export(tmp_path, SFTSettings())
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert (config["r"], config["lora_alpha"]) == (32, 32)
    # peft writes "all-linear" out as module names (suffixes or full paths); servers match the
    # last part of each name
    targets = {name.split(".")[-1] for name in config["target_modules"]}
    assert targets == VLLM_LLAMA_MODULES == set(LLAMA_LINEAR)
    assert config["bias"] == "none" and not config.get("modules_to_save")  # vLLM rejects both
    assert Path(config["base_model_name_or_path"]) == tiny_base()  # `--model` must be this base
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in keys}
    assert keys and all(KEY.match(k) for k in keys), [k for k in keys if not KEY.match(k)]
    assert {int(KEY.match(k).group(1)) for k in keys} == {0, 1}  # every layer of the tiny base
    assert all(32 in shape for shape in shapes.values())  # rank r on one side of each matrix


def test_upper_layer_adapter_names_its_layers(tmp_path: Path) -> None:
    out = _export(tmp_path, SFTSettings.from_dict({"lora": {"layers_to_transform": [1]}}))
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["layers_to_transform"] == [1]
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as f:
        assert {int(KEY.match(k).group(1)) for k in f.keys()} == {1}
