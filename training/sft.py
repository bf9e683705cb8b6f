"""Supervised fine-tuning of a LoRA adapter on question-answer pairs and study notes (trl + peft).

The loss covers answers (and notes) only (trl's completion loss) and is mixed with a replay
share of the base model's own answers to generic instructions (`training.generic`), so that
what the base could do is not forgotten. Checkpoints carry a completion marker; a killed run
resumes from the newest complete one.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from peft import LoraConfig
from transformers import TrainerCallback, TrainerState
from trl import SFTConfig

from training.base_model import load_causal_lm, resolve_model_path
from training.generate import evaluate
from training.generic import base_replay
from training.prompting import as_qa, note_example, sft_example
from training.trainers import (
    CheckpointMarker,
    History,
    Progress,
    ResumableSFTTrainer,
    device_defaults,
    directory_bytes,
    last_complete_checkpoint,
    quiet,
    read_complete,
    write_complete,
)

LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def default_sft_config(**overrides: Any) -> SFTConfig:
    """trl's `SFTConfig` with this project's defaults; any `SFTConfig` field can be overridden.

    Defaults: learning rate 1e-3 and batches of 8 (SmolLM2-135M, LoRA r=32 on all linear
    layers: 60 invented facts, 4 phrasings each, reached 0.983 on held-out phrasings), 3 epochs,
    batches grouped by length (padding is most of the tokens otherwise), examples up to 1,024
    tokens (reading examples carry passages), a complete checkpoint every 200 steps (two kept),
    no reporting integration (pass callbacks instead), fp32 on CPU and bf16 on CUDA.
    """
    values: dict[str, Any] = {
        "output_dir": "kc-sft", "learning_rate": 1e-3, "num_train_epochs": 3,
        "per_device_train_batch_size": 8, "lr_scheduler_type": "linear", "warmup_steps": 0.03,
        "weight_decay": 0.0, "logging_steps": 10, "save_strategy": "steps", "save_steps": 200,
        "save_total_limit": 2, "train_sampling_strategy": "group_by_length",
        "max_length": 1024, "seed": 0, **device_defaults()}
    values.update(overrides)
    return SFTConfig(**values)


@dataclass
class SFTSettings:
    """trl's `SFTConfig` (not re-declared: every trainer argument lives there) plus LoRA/replay.

    Length-grouped sampling is `trainer.train_sampling_strategy="group_by_length"` (default).
    """

    trainer: SFTConfig = field(default_factory=default_sft_config, metadata={
        "help": "trl SFTConfig: epochs, learning rate, batch size, checkpoints, sampling, seed."})
    lora_r: int = field(default=32, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={
        "help": "LoRA dropout; 0 suits memorising facts."})
    target_modules: str | list[str] = field(default="all-linear", metadata={
        "help": "Modules given adapters: 'all-linear' (every linear layer but the output "
                "embedding) or a list of module names."})
    layers_to_transform: list[int] | None = field(default=None, metadata={
        "help": "Decoder layers given adapters (None: all). Upper layers only make the backward "
                "pass stop early: cheaper per token, at some cost in what the adapter holds."})
    replay_share: float = field(default=0.2, metadata={
        "help": "Share of the training rows drawn from the replay pool: the base's own answers "
                "to generic instructions (against forgetting; at most the pool's size)."})
    curve_questions: int = field(default=0, metadata={
        "help": "Training questions answered at the end of every epoch (the learning curve: "
                "`SFTResult.curve`, logged as `curve_accuracy`); 0 skips it."})
    eval_questions: int = field(default=64, metadata={
        "help": "Training questions answered after training to report train accuracy (0: skip)."})

    def __post_init__(self) -> None:
        if isinstance(self.trainer, dict):
            self.trainer = default_sft_config(**self.trainer)
        if self.lora_r < 1 or self.lora_alpha < 1:
            raise ValueError("lora_r and lora_alpha must be at least 1")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError("lora_dropout must be in [0, 1)")
        if not 0.0 <= self.replay_share < 1.0:
            raise ValueError("replay_share must be in [0, 1)")
        if self.eval_questions < 0:
            raise ValueError("eval_questions must not be negative")
        limit = self.trainer.save_total_limit
        if limit is not None and limit < 2:
            raise ValueError("trainer.save_total_limit must be at least 2 (or None): a run killed "
                             "while saving must leave the previous complete checkpoint")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SFTSettings:
        """Settings from a plain mapping (kc.yaml); `trainer` holds `SFTConfig` fields."""
        return cls(**values)

    def lora_config(self) -> LoraConfig:
        targets = self.target_modules
        if self.layers_to_transform is not None and targets == "all-linear":
            # peft takes layers only with named modules: the linear layers of a Llama block
            # (SmolLM2, and the Llama-family bases); name them yourself for other families.
            targets = list(LLAMA_LINEAR)
        return LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha,
                          lora_dropout=self.lora_dropout, target_modules=targets,
                          layers_to_transform=self.layers_to_transform,
                          bias="none", task_type="CAUSAL_LM")


@dataclass
class SFTResult:
    adapter_path: Path
    adapter_bytes: int
    trainable_parameters: int
    loss_history: list[tuple[int, float]]
    train_tokens: int
    tokens_per_second: float
    train_seconds: float
    train_accuracy: float | None
    global_step: int
    resumed_from: str | None
    n_examples: int
    n_replay: int
    cached: bool = False
    curve: list[tuple[float, float]] = field(default_factory=list)  # (epoch, accuracy)

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "adapter_path": str(self.adapter_path)}


class LearningCurve(TrainerCallback):
    """Exact match on a fixed sample of training questions at the end of every epoch, so the
    number of epochs can be chosen from a measured curve rather than guessed."""

    def __init__(self, tokenizer: Any, sample: Sequence[Any]) -> None:
        self.tokenizer, self.sample = tokenizer, list(sample)
        self.points: list[tuple[float, float]] = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        accuracy, _ = evaluate(model, self.tokenizer, self.sample)
        self.points.append((round(state.epoch or 0.0, 2), accuracy))
        state.log_history.append({"epoch": state.epoch, "step": state.global_step,
                                  "curve_accuracy": accuracy})


def mix_rows(examples: Iterable[Any], notes: Iterable[Any],
             replay: Sequence[dict[str, Any]], share: float,
             seed: int) -> tuple[list[dict[str, Any]], int]:
    """Rows for the new questions and notes, plus `share` of the total drawn from `replay`."""
    rows = [sft_example(q) for q in examples] + [note_example(n) for n in notes]
    if not rows:
        raise ValueError("no training examples: give question-answer pairs or notes")
    wanted = round(share / (1.0 - share) * len(rows)) if share else 0
    replayed = random.Random(seed).sample(list(replay), min(wanted, len(replay)))
    mixed = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows + replayed]
    return mixed, len(replayed)


def build_sft_trainer(model: Any, tok: Any, rows: list[dict[str, Any]], settings: SFTSettings,
                      output_dir: Path, callbacks: Sequence[TrainerCallback] = ()
                      ) -> ResumableSFTTrainer:
    """The trl trainer for `rows`, with the LoRA adapter from `settings` attached."""
    # A copy with another output_dir; `dataclasses.replace` would rerun `__post_init__`,
    # which GRPOConfig refuses on its own resolved fields.
    args = copy.copy(settings.trainer)
    args.output_dir = str(output_dir)
    return quiet(ResumableSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                   processing_class=tok, peft_config=settings.lora_config(),
                                   callbacks=list(callbacks)))


def train_sft(base_path: str | Path, examples: Iterable[Any], notes: Iterable[Any] = (),
              replay: Sequence[dict[str, Any]] | None = None,
              settings: SFTSettings | None = None, out_dir: str | Path = "kc-sft",
              resume: bool = True, progress: Progress | None = None,
              callbacks: Sequence[TrainerCallback] = ()) -> SFTResult:
    """Train a LoRA adapter on `examples` (question-answer pairs) and `notes` (study text).

    Items with passages (`training.prompting.QA.passages`) are reading examples. `replay` rows
    (prompt/completion) default to the base's own answers to generic instructions.
    `callbacks` are `transformers.TrainerCallback`s (e.g. MLflow logging). Writes
    `out_dir/checkpoints/`, `out_dir/adapter/`, `out_dir/result.json` and a `COMPLETE` marker;
    with `resume`, a finished run is returned as is and a killed one continues from its newest
    complete checkpoint; without it, `out_dir` is cleared first.
    """
    settings = settings or SFTSettings()
    out = Path(out_dir)
    if not resume:
        shutil.rmtree(out, ignore_errors=True)
    done = read_complete(out)
    if done is not None:
        return _result_from_json(done)
    base = resolve_model_path(base_path, progress)
    examples = [as_qa(q) for q in examples]
    pool = base_replay(base) if replay is None else replay
    rows, n_replay = mix_rows(examples, list(notes), pool, settings.replay_share,
                              settings.trainer.seed)
    model, tok = load_causal_lm(base)
    ckpt_dir = out / "checkpoints"
    resume_from = last_complete_checkpoint(ckpt_dir) if resume else None
    history = History(progress, "sft")
    curve = LearningCurve(tok, random.Random(settings.trainer.seed + 1).sample(
        examples, min(settings.curve_questions, len(examples))))
    trainer = build_sft_trainer(model, tok, rows, settings, ckpt_dir,
                                [CheckpointMarker(), history, *callbacks,
                                 *([curve] if curve.sample else [])])
    started = time.monotonic()
    if resume_from is not None and _is_final(resume_from):
        # Killed after its last checkpoint: the Trainer would take a step past max_steps.
        trainer._load_from_checkpoint(str(resume_from))
        trainer.state = TrainerState.load_from_json(str(resume_from / "trainer_state.json"))
    else:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.monotonic() - started
    adapter = out / "adapter"
    # Under DDP (`accelerate launch`) every process gets here with the same weights: the main
    # one writes, the others wait until the adapter is complete.
    main = trainer.is_world_process_zero()
    if main:  # only the adapter: `load_causal_lm` rebuilds the same tokenizer from the base
        trainer.model.save_pretrained(adapter)
    trainer.accelerator.wait_for_everyone()
    accuracy = None
    if settings.eval_questions and examples and main:
        sample = random.Random(settings.trainer.seed).sample(
            examples, min(settings.eval_questions, len(examples)))
        accuracy, _ = evaluate(trainer.model, tok, sample)
    result = SFTResult(
        adapter_path=adapter, adapter_bytes=directory_bytes(adapter),
        trainable_parameters=sum(p.numel() for p in trainer.model.parameters()
                                 if p.requires_grad),
        loss_history=history.series("loss"), train_tokens=trainer._total_train_tokens,
        tokens_per_second=trainer._total_train_tokens / max(seconds, 1e-9),
        train_seconds=seconds, train_accuracy=accuracy, global_step=trainer.state.global_step,
        resumed_from=resume_from.name if resume_from else None, n_examples=len(rows),
        n_replay=n_replay, curve=curve.points)
    if main:
        write_complete(out, result.to_json())
    trainer.accelerator.wait_for_everyone()
    return result


def _is_final(checkpoint: Path) -> bool:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return state["global_step"] >= state["max_steps"] > 0


def _result_from_json(values: dict[str, Any]) -> SFTResult:
    values = {**values, "adapter_path": Path(values["adapter_path"]), "cached": True,
              "loss_history": [tuple(x) for x in values["loss_history"]],
              "curve": [tuple(x) for x in values.get("curve", [])]}
    return SFTResult(**values)
