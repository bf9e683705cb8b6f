"""GRPO: rewards, log-probs from the model's own head, and one step on CPU."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

from tests.training.test_base_support import (  # noqa: F401
    QA_PAIRS,
    one_cpu_thread,
    tiny_base,
)
from training.base_model import load_causal_lm
from training.generate import left_pad
from training.grpo import (
    GRPOSettings,
    brevity_reward,
    build_grpo_trainer,
    correctness_reward,
    default_grpo_config,
    grpo_dataset,
    train_grpo,
)
from training.prompting import prompt_ids
from training.sft import SFTSettings, default_sft_config, train_sft


@functools.cache
def sft_adapter() -> Path:
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="kc-tiny-sft-"))
    settings = SFTSettings(trainer=default_sft_config(max_steps=2, learning_rate=5e-3,
                                                      per_device_train_batch_size=4),
                           eval_questions=0)
    return train_sft(tiny_base(), QA_PAIRS, [], None, settings, out).adapter_path


def grpo_settings(**trainer: object) -> GRPOSettings:
    values = {"max_steps": 1, "per_device_train_batch_size": 8, "num_generations": 4,
              "max_completion_length": 6, "logging_steps": 1, **trainer}
    return GRPOSettings(trainer=default_grpo_config(**values), eval_questions=2)


def test_grpo_reward_exact_values() -> None:
    completions = ["lena o ' brook", [{"role": "assistant", "content": "Lena Smith [1]"}],
                   "port 8443 on eu", ""]
    answers = ["Lena O'Brook", "Lena O'Brook", "8443", "8443"]
    assert correctness_reward(completions, answers) == [1.0, 0.25, 0.2, 0.0]
    assert brevity_reward(completions, answers) == [1.0, 1.0, 0.4, 0.0]


def test_grpo_stock_log_probs_equal_the_models_own_on_left_padded_rows() -> None:
    model, tok = load_causal_lm(tiny_base())
    model = PeftModel.from_pretrained(model, sft_adapter(), is_trainable=True)
    trainer = build_grpo_trainer(model, tok, grpo_dataset(QA_PAIRS), grpo_settings(),
                                 Path("/nonexistent/unused"))
    prompts = [prompt_ids(tok, q) for q, _ in QA_PAIRS[:3]]
    completions = [tok(a, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                   for _, a in QA_PAIRS[:3]]
    width = max(len(c) for c in completions)
    p_ids, p_mask = left_pad(prompts, tok.pad_token_id)
    c_ids = torch.full((3, width), tok.pad_token_id)
    c_mask = torch.zeros((3, width), dtype=torch.long)
    for i, c in enumerate(completions):
        c_ids[i, :len(c)], c_mask[i, :len(c)] = torch.tensor(c), 1
    ids, mask = torch.cat([p_ids, c_ids], 1), torch.cat([p_mask, c_mask], 1)
    assert len({len(p) for p in prompts}) > 1  # rows really are left-padded differently
    with torch.no_grad():
        ours, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, width)
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            row = torch.tensor([prompt + completion])  # no padding at all
            logp = torch.log_softmax(trainer.model(input_ids=row).logits[0].float(), -1)
            own = logp[len(prompt) - 1:-1].gather(-1, row[0, len(prompt):, None])[:, 0]
            assert torch.allclose(ours[i, :len(completion)], own, atol=1e-4)
            assert torch.all(ours[i, len(completion):] == 0)


def test_grpo_step_runs_on_cpu(tmp_path: Path) -> None:
    result = train_grpo(tiny_base(), sft_adapter(), QA_PAIRS, grpo_settings(), tmp_path / "g")
    assert result.steps == 1
    assert len(result.reward_history) == 1 and 0.0 <= result.reward_history[0][1] <= 1.2
    before = load_file(sft_adapter() / "adapter_model.safetensors")
    after = load_file(result.adapter_path / "adapter_model.safetensors")
    assert before.keys() == after.keys()
    assert result.accuracy_before is not None and result.accuracy_after is not None


def test_grpo_missing_adapter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"SFT adapter .* not found"):
        train_grpo(tiny_base(), tmp_path / "nope", QA_PAIRS, grpo_settings(), tmp_path / "g")
