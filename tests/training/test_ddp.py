"""Data-parallel SFT through `accelerate launch`: 2 CPU processes (DDP over gloo) reach the
accuracy of one process on the same data, batch and step count.

accelerate 1.15's `--cpu` launcher starts a single process unless given an MPI hostfile
(`--mpirun_hostfile`); `--multi_gpu` starts the processes through torchrun, and on a machine
without CUDA each process's Trainer (`use_cpu`) joins a gloo group (accelerate's MULTI_CPU).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.test_base_support import tiny_base
from training.trainers import CHECKPOINT_MARKER

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMES = ("zarnik pay", "orvik relay", "tessel cache", "marlow ledger", "quoran sync", "beklow api",
         "feltav store", "dixran mail", "lumpol audit", "norvin proxy", "galkes export",
         "vinbor search")
PAIRS = [(f"Which port does the {name} listen on?", str(4100 + 37 * i))
         for i, name in enumerate(NAMES)]
EPOCHS = 40  # 12 pairs in batches of 8: 2 optimizer steps an epoch, 80 in all


def _job(tmp_path: Path, name: str, per_device_batch: int) -> Path:
    job = {"base": str(tiny_base()), "examples": PAIRS, "out_dir": str(tmp_path / name),
           "threads": 1,
           "settings": {"replay_share": 0.0, "eval_questions": len(PAIRS), "trainer": {
               "learning_rate": 5e-3, "num_train_epochs": EPOCHS,
               "per_device_train_batch_size": per_device_batch, "save_strategy": "steps",
               "save_steps": 40, "logging_steps": 5, "seed": 0,
               "ddp_find_unused_parameters": False}}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(job))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return time.monotonic() - started


@pytest.mark.slow
def test_two_process_ddp_reaches_single_process_accuracy(tmp_path: Path) -> None:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate, "accelerate's CLI is not installed beside this Python"
    single_s = _run([sys.executable, "-m", "training.ddp_entry",
                     str(_job(tmp_path, "single", per_device_batch=8))])
    ddp_s = _run([accelerate, "launch", "--multi_gpu", "--num_processes", "2",
                  "--num_machines", "1", "--num_cpu_threads_per_process", "1",
                  "--mixed_precision", "no", "--dynamo_backend", "no",
                  "--main_process_port", str(_free_port()),
                  "-m", "training.ddp_entry", str(_job(tmp_path, "ddp", per_device_batch=4))])

    processes = [json.loads((tmp_path / "ddp" / f"process-{r}.json").read_text())
                 for r in (0, 1)]
    assert [(p["rank"], p["world_size"], p["backend"]) for p in processes] == [
        (0, 2, "gloo"), (1, 2, "gloo")]
    single_run = json.loads((tmp_path / "single" / "process-0.json").read_text())
    assert single_run["world_size"] == 1
    single = json.loads((tmp_path / "single" / "result.json").read_text())
    ddp = json.loads((tmp_path / "ddp" / "result.json").read_text())
    assert (tmp_path / "ddp" / "COMPLETE").exists()
    # A checkpoint is marked complete only once both processes wrote their part of it.
    for step in (40, 80):
        folder = tmp_path / "ddp" / "checkpoints" / f"checkpoint-{step}"
        assert (folder / CHECKPOINT_MARKER).exists()
        assert (folder / "rng_state_0.pth").exists() and (folder / "rng_state_1.pth").exists()
    assert (tmp_path / "ddp" / "adapter" / "adapter_model.safetensors").exists()
    # Same global batch (8 = 2 x 4), so the same number of optimizer steps.
    assert single["global_step"] == 80 and ddp["global_step"] == 80
    assert ddp["loss_history"][-1][1] < ddp["loss_history"][0][1] / 10
    print(f"single process: accuracy {single['train_accuracy']:.3f} in {single_s:.0f} s; "  # noqa: T201
          f"2-process DDP: accuracy {ddp['train_accuracy']:.3f} in {ddp_s:.0f} s")
    assert single["train_accuracy"] >= 0.9
    assert ddp["train_accuracy"] >= single["train_accuracy"] - 1 / len(PAIRS)
