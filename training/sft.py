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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from peft import LoraConfig
from transformers import TrainerCallback, TrainerState
from trl import SFTConfig

from training.base_model import load_causal_lm, resolve_model_path
from training.distill import OBJECTIVES, DistillSFTTrainer, attach_targets, cached_teacher_targets
from training.generate import evaluate
from training.generic import base_replay
from training.lora import default_lora_config
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
    """trl's `SFTConfig` and peft's `LoraConfig` (not re-declared: every trainer and adapter
    argument lives there) plus replay and the objective.

    Length-grouped sampling is `trainer.train_sampling_strategy="group_by_length"` (default).
    """

    trainer: SFTConfig = field(default_factory=default_sft_config, metadata={
        "help": "trl SFTConfig: epochs, learning rate, batch size, checkpoints, sampling, seed."})
    lora: LoraConfig = field(default_factory=default_lora_config, metadata={
        "help": "peft LoraConfig: r, lora_alpha, lora_dropout, target_modules, "
                "layers_to_transform, ... (`training.lora.default_lora_config`)."})
    replay_share: float = field(default=0.2, metadata={
        "help": "Share of the training rows drawn from the replay pool: the base's own answers "
                "to generic instructions (against forgetting; at most the pool's size)."})
    curve_questions: int = field(default=0, metadata={
        "help": "Training questions answered at the end of every epoch (the learning curve: "
                "`SFTResult.curve`, logged as `curve_accuracy`); 0 skips it."})
    eval_questions: int = field(default=64, metadata={
        "help": "Training questions answered after training to report train accuracy (0: skip)."})
    objective: str = field(default="sft", metadata={
        "help": "'sft' (cross-entropy on the gold answer), 'distill' (KL to the base reading "
                "the fact's chunk, `training.distill`) or 'both' (the sum)."})
    distill_top_k: int = field(default=16, metadata={
        "help": "Teacher probabilities kept per answer token."})
    distill_weight: float = field(default=1.0, metadata={"help": "Weight of the KL term."})

    def __post_init__(self) -> None:
        if isinstance(self.trainer, dict):
            self.trainer = default_sft_config(**self.trainer)
        if isinstance(self.lora, Mapping):
            self.lora = default_lora_config(**self.lora)
        if not 0.0 <= self.replay_share < 1.0:
            raise ValueError("replay_share must be in [0, 1)")
        if self.eval_questions < 0:
            raise ValueError("eval_questions must not be negative")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if self.distill_top_k < 1 or self.distill_weight < 0:
            raise ValueError("distill_top_k must be >= 1 and distill_weight >= 0")
        limit = self.trainer.save_total_limit
        if limit is not None and limit < 2:
            raise ValueError("trainer.save_total_limit must be at least 2 (or None): a run killed "
                             "while saving must leave the previous complete checkpoint")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SFTSettings:
        """Settings from a plain mapping (kc.yaml); `trainer` holds `SFTConfig` fields and
        `lora` `LoraConfig` fields."""
        return cls(**values)


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
    kwargs: dict[str, Any] = {"model": model, "args": args, "processing_class": tok,
                              "train_dataset": Dataset.from_list(rows),
                              "peft_config": copy.deepcopy(settings.lora),  # peft fills it in
                              "callbacks": list(callbacks)}
    if settings.objective == "sft":
        return quiet(ResumableSFTTrainer(**kwargs))
    return quiet(DistillSFTTrainer(**kwargs, objective=settings.objective,
                                   weight=settings.distill_weight))


def train_sft(base_path: str | Path, examples: Iterable[Any], notes: Iterable[Any] = (),
              replay: Sequence[dict[str, Any]] | None = None,
              settings: SFTSettings | None = None, out_dir: str | Path = "kc-sft",
              resume: bool = True, progress: Progress | None = None,
              callbacks: Sequence[TrainerCallback] = (),
              teacher_passages: Mapping[str, str] | None = None) -> SFTResult:
    """Train a LoRA adapter on `examples` (question-answer pairs) and `notes` (study text).

    Items with passages (`training.prompting.QA.passages`) are reading examples. `replay` rows
    (prompt/completion) default to the base's own answers to generic instructions.
    `callbacks` are `transformers.TrainerCallback`s (e.g. MLflow logging). With
    `settings.objective` 'distill' or 'both', `teacher_passages` (chunk id -> passage) give
    each closed-book example with a `chunk_id` its teacher (`training.distill`). Writes
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
    examples = list(examples)
    chunks = [q.get("chunk_id") if isinstance(q, Mapping) else None for q in examples]
    examples = [as_qa(q) for q in examples]
    pool = base_replay(base) if replay is None else replay
    rows, n_replay = mix_rows(examples, list(notes), pool, settings.replay_share,
                              settings.trainer.seed)
    model, tok = load_causal_lm(base)
    if settings.objective != "sft":
        passages = teacher_passages or {}
        taught = {i: (qa, passages[c])
                  for i, (qa, c) in enumerate(zip(examples, chunks, strict=True))
                  if not qa.passages and c is not None and c in passages}
        if not taught:
            raise ValueError(f"objective {settings.objective!r} needs closed-book examples "
                             "with a chunk_id found in teacher_passages")
        targets = cached_teacher_targets(out.parent / "teacher-cache", str(base), model, tok,
                                         list(taught.values()), settings.distill_top_k)
        rows = attach_targets(rows, dict(zip(taught, targets, strict=True)))
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
