"""What the SFT and GRPO stages share: a resumable sampler, checkpoints, progress, devices.

Training uses trl's stock `SFTTrainer` and `GRPOTrainer`; the only change is the sampler of
`ResumableSFTTrainer`, whose batch order a killed run replays exactly on resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import PrinterCallback, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from trl import SFTTrainer

CHECKPOINT_MARKER = "KC_CHECKPOINT_COMPLETE"
COMPLETE_MARKER = "COMPLETE"
Progress = Callable[[str, float], None]


def device_defaults() -> dict[str, Any]:
    """Trainer arguments for this machine: CUDA with bf16 when available, else plain fp32 CPU.

    trl defaults to bf16 and gradient checkpointing; both slow down a small model on a CPU.
    """
    cuda = torch.cuda.is_available()
    return {"use_cpu": not cuda, "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
            "activation_checkpointing": False, "report_to": "none", "disable_tqdm": True}


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` intra-op CPU threads (None: unchanged), then restore the count.

    On a CPU shared with other jobs, one thread beat two by 5x in training and 25x in
    generation (measured here: OpenMP barriers wait for the thread that is not scheduled).
    Entry points (the `kc` command, Dagster resources) choose; libraries never set it.
    """
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class EpochSeededLengthSampler(LengthGroupedSampler):
    """Length-grouped order drawn from `seed + epoch` alone.

    transformers' sampler draws from the global RNG, whose state at a resumed epoch differs
    from an uninterrupted run's: the batches skipped on resume were then not the ones trained
    before the kill (some rows trained twice, others not at all; measured in
    tests/privacy/test_training_crash.py). Seeded per epoch, a resumed run replays the same order.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size,
                                               generator=generator))


class ResumableSFTTrainer(SFTTrainer):
    """trl's `SFTTrainer` with a length-grouped order drawn from `seed + epoch` alone."""

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if type(sampler) is LengthGroupedSampler:
            return EpochSeededLengthSampler(sampler.lengths, sampler.batch_size, self.args.seed)
        return sampler


class CheckpointMarker(TrainerCallback):
    """Marks a checkpoint complete once the Trainer has written all of it (model, optimizer,
    scheduler, RNG and trainer state); a run killed while saving leaves no marker.

    Under DDP every process writes its RNG state into the folder and the Trainer does not wait
    for them after saving: all processes meet here first, then the main one marks it.
    """

    def on_save(self, args, state, control, **kwargs):
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            (folder / CHECKPOINT_MARKER).write_text(json.dumps({"step": state.global_step}))


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """The newest checkpoint with a completion marker; incomplete ones are deleted."""
    if not output_dir.is_dir():
        return None
    complete = []
    for folder in output_dir.glob("checkpoint-*"):
        if not folder.is_dir() or not folder.name.split("-")[-1].isdigit():
            continue
        if (folder / CHECKPOINT_MARKER).exists():
            complete.append(folder)
        else:  # every DDP process may get here: another may have deleted it first
            shutil.rmtree(folder, ignore_errors=True)
    return max(complete, key=lambda p: int(p.name.split("-")[-1]), default=None)


def quiet(trainer: Any) -> Any:
    """Drop the Trainer's stdout printer (disable_tqdm adds it); `History` keeps the logs."""
    trainer.remove_callback(PrinterCallback)
    return trainer


class History(TrainerCallback):
    """Keeps every log line (loss, learning rate, rewards...) and reports progress."""

    def __init__(self, progress: Progress | None = None, label: str = "training") -> None:
        self.logs: list[dict[str, float]] = []
        self.progress = progress
        self.label = label

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self.logs.append({"step": state.global_step, **{k: float(v) for k, v in logs.items()
                                                          if isinstance(v, int | float)}})

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress and state.max_steps:
            self.progress(f"{self.label}: step {state.global_step}/{state.max_steps}",
                          state.global_step / state.max_steps)

    def series(self, key: str) -> list[tuple[int, float]]:
        return [(int(row["step"]), row[key]) for row in self.logs if key in row]


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def write_complete(out_dir: Path, result: dict[str, Any]) -> None:
    """Write `result.json`, then the completion marker (last, so its presence means done)."""
    tmp = out_dir / "result.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, default=str))
    os.replace(tmp, out_dir / "result.json")
    (out_dir / COMPLETE_MARKER).write_text("ok\n")


def read_complete(out_dir: Path) -> dict[str, Any] | None:
    if (out_dir / COMPLETE_MARKER).exists() and (out_dir / "result.json").exists():
        return json.loads((out_dir / "result.json").read_text())
    return None
