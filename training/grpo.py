"""GRPO on top of the SFT adapter (stock trl `GRPOTrainer`), rewarding correct, short answers.

Prompts are the tenant's closed-book questions and, when given, reading examples: those whose
documents do not hold the answer reward the exact abstention `UNKNOWN_ANSWER`, so the adapter
learns to say so rather than guess.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from peft import PeftModel
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from training.answers import exact_match, normalize_answer, token_f1
from training.base_model import load_causal_lm, resolve_model_path
from training.generate import evaluate
from training.prompting import as_qa, prompt_messages
from training.trainers import (
    History,
    Progress,
    device_defaults,
    directory_bytes,
    quiet,
    write_complete,
)


def completion_text(completion: str | list[dict[str, str]] | dict[str, str]) -> str:
    """The text of a completion, plain or conversational (a list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return " ".join(str(m.get("content", "")) for m in completion)


def correctness_reward(completions: Sequence[Any], answer: Sequence[str],
                       **kwargs: Any) -> list[float]:
    """1.0 for an exact match after `normalize_answer`, else half the token F1.

    >>> correctness_reward(["lena o ' brook", "lena smith", "8443"], ["Lena O'Brook"] * 3)
    [1.0, 0.25, 0.0]
    >>> correctness_reward([[{"role": "assistant", "content": "8443 [2]"}]], ["8443"])
    [1.0]
    """
    rewards = []
    for completion, gold in zip(completions, answer, strict=True):
        text = completion_text(completion)
        rewards.append(1.0 if exact_match(text, gold) else 0.5 * token_f1(text, gold))
    return rewards


def brevity_reward(completions: Sequence[Any], answer: Sequence[str],
                   **kwargs: Any) -> list[float]:
    """min(1, (gold words + 1) / (answer words + 1)) on normalised text; 0.0 for an empty answer.

    >>> brevity_reward(["8443", "port 8443 on eu", ""], ["8443"] * 3)
    [1.0, 0.4, 0.0]
    """
    rewards = []
    for completion, gold in zip(completions, answer, strict=True):
        words = len(normalize_answer(completion_text(completion)).split())
        gold_words = len(normalize_answer(gold).split())
        rewards.append(0.0 if words == 0 else min(1.0, (gold_words + 1) / (words + 1)))
    return rewards


def default_grpo_config(**overrides: Any) -> GRPOConfig:
    """trl's `GRPOConfig` with this project's defaults; any field can be overridden.

    2 prompts x 4 generations per step, 20 steps (rollouts of a 135M model on a CPU cost
    seconds each), 16 new tokens at most, no reference model (beta 0), a LoRA-sized learning
    rate, fp32 on CPU and bf16 on CUDA.
    """
    values: dict[str, Any] = {
        "output_dir": "kc-grpo", "learning_rate": 3e-5, "max_steps": 20,
        "per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 16,
        "temperature": 1.0, "beta": 0.0, "logging_steps": 5, "save_strategy": "no",
        "reward_weights": [1.0, 0.2], "seed": 0, **device_defaults()}
    values.update(overrides)
    return GRPOConfig(**values)


@dataclass
class GRPOSettings:
    """trl's `GRPOConfig` (not re-declared) plus what this stage adds."""

    trainer: GRPOConfig = field(default_factory=default_grpo_config, metadata={
        "help": "trl GRPOConfig: steps, generations, completion length, learning rate, beta."})
    eval_questions: int = field(default=32, metadata={
        "help": "Questions answered before and after GRPO to report the change (0: skip)."})

    def __post_init__(self) -> None:
        if isinstance(self.trainer, dict):
            self.trainer = default_grpo_config(**self.trainer)
        if self.eval_questions < 0:
            raise ValueError("eval_questions must not be negative")
        weights = self.trainer.reward_weights
        if weights is not None and len(weights) != 2:
            raise ValueError("trainer.reward_weights needs two weights: correctness, brevity")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GRPOSettings:
        return cls(**values)


@dataclass
class GRPOResult:
    adapter_path: Path
    adapter_bytes: int
    steps: int
    seconds: float
    reward_history: list[tuple[int, float]]
    accuracy_before: float | None
    accuracy_after: float | None

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "adapter_path": str(self.adapter_path)}


def grpo_dataset(prompts_with_answers: Iterable[Any]) -> Dataset:
    """Rows of `prompt` (chat messages, with passages if any) and `answer`."""
    rows = [{"prompt": prompt_messages(qa.question, qa.passages), "answer": qa.answer}
            for qa in map(as_qa, prompts_with_answers)]
    if not rows:
        raise ValueError("no prompts for GRPO")
    return Dataset.from_list(rows)


def build_grpo_trainer(model: Any, tok: Any, dataset: Dataset, settings: GRPOSettings,
                       output_dir: Path, callbacks: Sequence[TrainerCallback] = ()
                       ) -> GRPOTrainer:
    # A copy with another output_dir; `dataclasses.replace` would rerun `__post_init__`,
    # which GRPOConfig refuses on its own resolved fields.
    args = copy.copy(settings.trainer)
    args.output_dir = str(output_dir)
    return quiet(GRPOTrainer(model=model, reward_funcs=[correctness_reward, brevity_reward],
                                    args=args, train_dataset=dataset, processing_class=tok,
                                    callbacks=list(callbacks)))


def train_grpo(base_path: str | Path, sft_adapter_path: str | Path,
               prompts_with_answers: Iterable[Any], settings: GRPOSettings | None = None,
               out_dir: str | Path = "kc-grpo", progress: Progress | None = None,
               callbacks: Sequence[TrainerCallback] = ()) -> GRPOResult:
    """Continue training the SFT adapter with GRPO; writes `out_dir/adapter` and a marker."""
    settings = settings or GRPOSettings()
    out = Path(out_dir)
    adapter_in = Path(sft_adapter_path)
    if not (adapter_in / "adapter_config.json").exists():
        raise FileNotFoundError(f"SFT adapter {str(adapter_in)!r} not found: expected a "
                                "directory with adapter_config.json (train_sft's adapter/)")
    items = [as_qa(q) for q in prompts_with_answers]
    dataset = grpo_dataset(items)
    model, tok = load_causal_lm(resolve_model_path(base_path, progress))
    model = PeftModel.from_pretrained(model, adapter_in, is_trainable=True)
    sample = random.Random(settings.trainer.seed).sample(
        items, min(settings.eval_questions, len(items)))
    before = evaluate(model, tok, sample)[0] if sample else None
    history = History(progress, "grpo")
    trainer = build_grpo_trainer(model, tok, dataset, settings, out / "trainer",
                                 [history, *callbacks])
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    adapter = out / "adapter"
    trainer.model.save_pretrained(adapter)
    after = evaluate(trainer.model, tok, sample)[0] if sample else None
    result = GRPOResult(adapter_path=adapter, adapter_bytes=directory_bytes(adapter),
                        steps=trainer.state.global_step, seconds=seconds,
                        reward_history=history.series("reward"), accuracy_before=before,
                        accuracy_after=after)
    write_complete(out, result.to_json())
    return result
