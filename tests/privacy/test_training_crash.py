"""Crash safety of training: `kill -9` at random points of LoRA SFT runs (issue 9.6).

A run is started on a tiny Llama with a checkpoint at every step (two kept) and killed with
SIGKILL after a random, seeded delay: while the model loads, in a step, while a checkpoint or
the rotation of an old one is being written, or while the final adapter is saved. After every
kill:

- every checkpoint that carries the completion marker loads (adapter weights, optimizer,
  scheduler, RNG and trainer state, at the step its name gives);
- `last_complete_checkpoint` returns the newest of them (None before the first), and it never
  goes back behind the one found after the previous kill;
- the next run starts training at exactly that checkpoint's step (its `SFTResult.resumed_from`
  names it when it completes).

When an episode of kills ends (a run completes), the run must have made as many steps as an
uninterrupted run and its adapter must load and equal the uninterrupted run's adapter; then a
new episode starts, until `KC_CRASH_KILLS` kills (default 20) have been made.

Each run is a process forked from a server that imported torch and transformers once (and
did no tensor work before forking): importing them costs 10-30 s per process on a shared
2-core machine, which would leave no time for 20 kills. The killed process is the training
process itself; the server only forks and reaps.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.trainers import CHECKPOINT_MARKER, COMPLETE_MARKER, last_complete_checkpoint

pytestmark = pytest.mark.slow
KILLS = int(os.environ.get("KC_CRASH_KILLS", "20"))
MAX_STEPS = 8
REPO_ROOT = Path(__file__).resolve().parents[2]

# Forks one training process per job line on stdin; reports "pid N" and "exit CODE" on stdout.
_SERVER = """
import json, os, sys, traceback
import torch
torch.set_num_threads(1)
from transformers import TrainerCallback
from tests.training.test_base_support import NOTES, QA_PAIRS
from training.sft import SFTSettings, default_sft_config, train_sft


class Steps(TrainerCallback):
    def __init__(self, log):
        self.log, self.first = log, True

    def on_step_begin(self, args, state, control, **kwargs):
        if self.first:
            self.first = False
            self.log(f"begin {state.global_step}")

    def on_save(self, args, state, control, **kwargs):
        self.log(f"saved {state.global_step}")


print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        def log(message, fd=fd):
            os.write(fd, (message + "\\n").encode())
        try:
            settings = SFTSettings(trainer=default_sft_config(
                learning_rate=5e-3, per_device_train_batch_size=4, logging_steps=1,
                save_steps=1, save_total_limit=2, max_steps=job["max_steps"]),
                eval_questions=0, replay_share=0.2)
            result = train_sft(job["base"], QA_PAIRS, NOTES, None, settings, job["out"],
                               callbacks=[Steps(log)])
            log("result " + json.dumps(result.to_json()))
            code = 0
        except BaseException:
            log("error " + traceback.format_exc().replace("\\n", " | "))
            code = 1
        os._exit(code)
    print(f"pid {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
"""


class TrainingServer:
    """The forking server, with a reader thread so that the test can wait with a timeout."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1",
               "TOKENIZERS_PARALLELISM": "false"}
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER], env=env, cwd=REPO_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.lines.get(timeout=300) == "ready"

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("eof")

    def run(self, base: Path, out: Path, kill_after: float | None = None
            ) -> tuple[int, list[str], float]:
        """(exit code, log lines, seconds) of one training run; -9 when it was killed."""
        log = out.parent / f"{out.name}.log"
        log.unlink(missing_ok=True)
        job = {"base": str(base), "out": str(out), "log": str(log), "max_steps": MAX_STEPS}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        reply = self.lines.get(timeout=60)
        assert reply.startswith("pid "), reply
        pid = int(reply.split()[1])
        started = time.perf_counter()
        try:
            reply = self.lines.get(timeout=kill_after if kill_after is not None else 600)
        except queue.Empty:
            os.kill(pid, signal.SIGKILL)
            reply = self.lines.get(timeout=60)
        seconds = time.perf_counter() - started
        assert reply.startswith("exit "), reply
        lines = log.read_text().splitlines() if log.exists() else []
        return int(reply.split()[1]), lines, seconds

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _step(folder: Path) -> int:
    return int(folder.name.split("-")[-1])


def _assert_loads(folder: Path, adapter_keys: set[str]) -> None:
    """Everything the Trainer reads to resume from `folder` is there and loads."""
    step = _step(folder)
    assert json.loads((folder / CHECKPOINT_MARKER).read_text()) == {"step": step}
    assert json.loads((folder / "trainer_state.json").read_text())["global_step"] == step
    weights = load_file(folder / "adapter_model.safetensors")
    assert set(weights) == adapter_keys and all(torch.isfinite(w).all() for w in weights.values())
    optimizer = torch.load(folder / "optimizer.pt", weights_only=True)
    assert optimizer["state"] and optimizer["param_groups"]
    assert torch.load(folder / "scheduler.pt", weights_only=True)["last_epoch"] == step
    assert "python" in torch.load(folder / "rng_state.pth", weights_only=False)


def _check_after_kill(ckpts: Path, adapter_keys: set[str]) -> int:
    """Checks the checkpoint folder after a kill; returns the step to resume from (0: none)."""
    marked = sorted((p for p in ckpts.glob("checkpoint-*") if (p / CHECKPOINT_MARKER).exists()),
                    key=_step) if ckpts.is_dir() else []
    for folder in marked:
        _assert_loads(folder, adapter_keys)
    newest = last_complete_checkpoint(ckpts)
    if not marked:
        assert newest is None
        return 0
    assert newest == marked[-1]
    assert sorted(p.name for p in ckpts.glob("checkpoint-*")) == [p.name for p in marked]
    return _step(newest)


def _first_step(lines: list[str]) -> int | None:
    return next((int(line.split()[1]) for line in lines if line.startswith("begin ")), None)


def _result(lines: list[str]) -> dict[str, object]:
    errors = [line for line in lines if line.startswith("error ")]
    assert not errors, errors[0][:3000]
    return json.loads(next(line for line in lines if line.startswith("result "))[7:])


def _adapter(base: Path, out: Path) -> dict[str, torch.Tensor]:
    from training.loading import load_adapter

    model, _ = load_adapter(base, out / "adapter")  # the final adapter loads
    assert any("lora_" in name for name, _ in model.named_parameters())
    return load_file(out / "adapter" / "adapter_model.safetensors")


@pytest.fixture(scope="module")
def server_and_reference(tmp_path_factory):
    from tests.training.test_base_support import tiny_llama_dir

    root = tmp_path_factory.mktemp("training-crash")
    base = tiny_llama_dir(root / "base")
    server = TrainingServer()
    try:
        code, lines, seconds = server.run(base, root / "reference")
        assert code == 0, lines
        result = _result(lines)
        assert result["global_step"] == MAX_STEPS and result["resumed_from"] is None
        assert (root / "reference" / COMPLETE_MARKER).exists()
        yield server, base, root, seconds, _adapter(base, root / "reference")
    finally:
        server.close()


def test_kill_nine_during_training_resumes_from_the_last_complete_checkpoint(
        server_and_reference, record_property):
    server, base, root, duration, reference = server_and_reference
    keys = set(reference)
    rng = random.Random(6)
    kills = episodes = resumed = 0
    seen_steps: list[int] = []
    started = time.perf_counter()
    while kills < KILLS:
        episodes += 1
        out = root / f"episode-{episodes}"
        ckpts = out / "checkpoints"
        expected, floor = 0, 0
        for _ in range(KILLS + 5):
            kill = kills < KILLS
            code, lines, _ = server.run(base, out, rng.uniform(0.2, duration * 1.05)
                                        if kill else None)
            first = _first_step(lines)
            if first is not None:  # training started exactly at the last complete checkpoint
                assert first == expected, (first, expected)
                resumed += first > 0
            if code == 0:
                result = _result(lines)
                assert result["global_step"] == MAX_STEPS
                assert result["resumed_from"] == (f"checkpoint-{expected}" if expected else None)
                break
            assert code == -signal.SIGKILL, lines
            kills += 1
            assert not (out / COMPLETE_MARKER).exists()
            expected = _check_after_kill(ckpts, keys)
            assert expected >= floor, "a complete checkpoint was lost"
            floor = expected
            seen_steps.append(expected)
        else:
            pytest.fail(f"episode {episodes} did not complete in {KILLS + 5} runs")
        adapter = _adapter(base, out)
        assert set(adapter) == set(reference)
        for name, weight in adapter.items():  # resuming changed nothing that was learnt
            assert torch.allclose(weight, reference[name], atol=1e-6), name
        shutil.rmtree(out)
    figures = {"kills": kills, "episodes": episodes, "resumed_runs": resumed,
               "resume_steps": seen_steps, "uninterrupted_s": round(duration, 1),
               "kill_loop_s": round(time.perf_counter() - started, 1)}
    for key, value in figures.items():
        record_property(key, value)
    print(f"\ntraining crash loop: {figures}")  # noqa: T201
    assert kills == KILLS and resumed > 0
