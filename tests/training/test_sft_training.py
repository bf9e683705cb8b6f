"""LoRA SFT (stock trl): the loss covers completions only, falls, every adapter weight moves,
runs resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from tests.training.test_base_support import (  # noqa: F401
    NOTES,
    QA_PAIRS,
    one_cpu_thread,
    tiny_base,
)
from training.base_model import load_causal_lm
from training.generic import REPLAY_INSTRUCTIONS, base_replay
from training.lora import LLAMA_LINEAR
from training.prompting import as_qa
from training.sft import SFTSettings, build_sft_trainer, default_sft_config, mix_rows, train_sft
from training.trainers import CHECKPOINT_MARKER, COMPLETE_MARKER

REPLAY = [{"prompt": [{"role": "user", "content": q}],
           "completion": [{"role": "assistant", "content": "It is blue."}]}
          for q in REPLAY_INSTRUCTIONS]


def settings(**trainer: object) -> SFTSettings:
    values = {"learning_rate": 5e-3, "per_device_train_batch_size": 4, "logging_steps": 1,
              "save_steps": 2, "max_steps": 6, **trainer}
    return SFTSettings(trainer=default_sft_config(**values), eval_questions=2, replay_share=0.2)


class Snapshots(TrainerCallback):
    """Trainable parameters at the start and at the end of training."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()
                       if p.requires_grad}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()
                      if p.requires_grad}


def test_sft_loss_falls_and_every_lora_parameter_changes(tmp_path: Path) -> None:
    snaps = Snapshots()
    result = train_sft(tiny_base(), QA_PAIRS, NOTES, REPLAY, settings(max_steps=8),
                       tmp_path / "run", callbacks=[snaps])
    losses = [loss for _, loss in result.loss_history]
    assert [step for step, _ in result.loss_history] == list(range(1, 9))  # logged every step
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2
    assert snaps.before and all("lora_" in name for name in snaps.before)
    unchanged = [n for n in snaps.before if torch.equal(snaps.before[n], snaps.after[n])]
    assert unchanged == []
    assert result.trainable_parameters == sum(p.numel() for p in snaps.before.values())
    assert (result.adapter_path / "adapter_model.safetensors").exists()
    assert result.adapter_bytes > 0 and result.tokens_per_second > 0
    assert result.n_replay == 2 and result.n_examples == 10  # 8 new rows + 20% replay
    assert result.train_accuracy is not None
    assert (tmp_path / "run" / COMPLETE_MARKER).exists()
    cached = train_sft(tiny_base(), QA_PAIRS, NOTES, REPLAY, settings(max_steps=8),
                       tmp_path / "run")
    assert cached.cached and cached.global_step == 8


def test_sft_loss_is_the_models_own_loss_on_the_completion_only() -> None:
    model, tok = load_causal_lm(tiny_base())
    rows, _ = mix_rows([as_qa(q) for q in QA_PAIRS], NOTES, REPLAY, 0.2, 0)
    trainer = build_sft_trainer(model, tok, rows, settings(), Path("/nonexistent/unused"))
    batch = next(iter(trainer.get_train_dataloader()))
    labelled = batch["labels"] != -100
    assert labelled.any() and (~labelled).any()
    # every labelled token lies after the last assistant header: the prompt is never learnt
    header = tok.encode("<|im_start|>assistant\n", add_special_tokens=False)
    for ids, mask in zip(batch["input_ids"].tolist(), labelled.tolist(), strict=True):
        starts = [i + len(header) for i in range(len(ids) - len(header) + 1)
                  if ids[i:i + len(header)] == header]
        assert mask.index(True) == starts[-1]
    with torch.no_grad():
        stock = trainer.compute_loss(trainer.model, dict(batch))
        own_forward = trainer.model(**batch).loss
    assert torch.allclose(stock, own_forward, atol=1e-4)


def test_sft_replay_is_the_bases_own_answers_generated_once(tmp_path: Path,
                                                            monkeypatch) -> None:
    import shutil

    from training import generate

    base = tmp_path / "base"
    shutil.copytree(tiny_base(), base)
    calls = []

    def fake_answer(model, tok, questions, contexts=None, max_new_tokens=16, batch_size=32):
        calls.append(len(questions))
        return [f"answer {i}" if i % 10 else "" for i in range(len(questions))]

    monkeypatch.setattr(generate, "answer", fake_answer)
    rows = base_replay(base)
    assert calls == [len(REPLAY_INSTRUCTIONS)]
    assert len(rows) == len(REPLAY_INSTRUCTIONS) - 4  # empty answers are not replayed
    assert rows[0]["prompt"][-1]["content"] == REPLAY_INSTRUCTIONS[1]
    assert rows[0]["completion"] == [{"role": "assistant", "content": "answer 1"}]
    assert base_replay(base) == rows and calls == [len(REPLAY_INSTRUCTIONS)]  # from the cache


class KillAfter(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt("simulated kill")


def test_sft_killed_run_resumes_from_last_complete_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_sft(tiny_base(), QA_PAIRS, NOTES, REPLAY, settings(), out,
                  callbacks=[KillAfter(5)])
    ckpts = out / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert all((ckpts / n / CHECKPOINT_MARKER).exists() for n in ("checkpoint-2", "checkpoint-4"))
    assert not (out / COMPLETE_MARKER).exists()
    # a kill in the middle of writing checkpoint-6 leaves it without its marker
    partial = ckpts / "checkpoint-6"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"truncated")
    result = train_sft(tiny_base(), QA_PAIRS, NOTES, REPLAY, settings(), out)
    assert result.resumed_from == "checkpoint-4"
    assert result.global_step == 6
    assert [step for step, _ in result.loss_history] == [5, 6]
    state = json.loads((ckpts / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and (ckpts / "checkpoint-6" / CHECKPOINT_MARKER).exists()
    assert (out / COMPLETE_MARKER).exists()


def test_sft_settings_validation() -> None:
    with pytest.raises(ValueError, match="save_total_limit"):
        SFTSettings(trainer=default_sft_config(save_total_limit=1))
    with pytest.raises(ValueError, match="replay_share"):
        SFTSettings(replay_share=1.0)
    with pytest.raises(ValueError, match="lora_dropout"):
        SFTSettings.from_dict({"lora": {"lora_dropout": 1.0}})
    from_yaml = SFTSettings.from_dict({"lora": {"r": 8}, "trainer": {"num_train_epochs": 5}})
    assert from_yaml.lora.r == 8 and from_yaml.trainer.num_train_epochs == 5
    assert from_yaml.trainer.train_sampling_strategy == "group_by_length"
    assert from_yaml.trainer.activation_checkpointing is False
    assert from_yaml.lora.target_modules == "all-linear" and from_yaml.lora.lora_alpha == 32
    upper = SFTSettings.from_dict({"lora": {"layers_to_transform": [28, 29]}}).lora
    assert upper.layers_to_transform == [28, 29] and upper.r == 32
    assert upper.target_modules == set(LLAMA_LINEAR)  # peft takes layers with named modules


def test_sft_replay_share_is_exact() -> None:
    replay = [{"prompt": [{"role": "user", "content": f"q{i}"}],
               "completion": [{"role": "assistant", "content": "a"}]} for i in range(100)]
    rows, n = mix_rows([as_qa(q) for q in QA_PAIRS], NOTES, replay, 0.2, seed=0)
    assert (len(rows), n) == (10, 2)
    rows, n = mix_rows([as_qa(q) for q in QA_PAIRS], [], replay, 0.0, seed=0)
    assert (len(rows), n) == (6, 0)
    with pytest.raises(ValueError, match="no training examples"):
        mix_rows([], [], replay, 0.2, seed=0)


def test_sft_learning_curve_is_measured_every_epoch(tmp_path: Path) -> None:
    values = {"learning_rate": 5e-3, "per_device_train_batch_size": 4, "logging_steps": 1,
              "save_strategy": "no", "num_train_epochs": 2}
    run = SFTSettings(trainer=default_sft_config(**values), eval_questions=0, curve_questions=3,
                      replay_share=0.0)
    result = train_sft(tiny_base(), QA_PAIRS, [], REPLAY, run, tmp_path / "run")
    assert [epoch for epoch, _ in result.curve] == [1.0, 2.0]
    assert all(0.0 <= accuracy <= 1.0 for _, accuracy in result.curve)
    cached = train_sft(tiny_base(), QA_PAIRS, [], REPLAY, run, tmp_path / "run")
    assert cached.cached and cached.curve == result.curve
