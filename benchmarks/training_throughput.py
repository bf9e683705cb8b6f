"""LoRA SFT tokens/s against forward-only tokens/s on SmolLM2-135M-Instruct, same rows, 1 thread.

The rows are realistic compile rows: the generic instructions of ``training.generic``
(``REPLAY_INSTRUCTIONS``) with hand-written short answers, as trl conversational
prompt-completion rows in the one prompt format (``training.prompting``: system message,
question, answer; ~30 tokens each). ``training.sft.build_sft_trainer`` (trl's stock
``SFTTrainer``, default config: batches of 8 grouped by length, fp32 on CPU) trains two epochs;
the second is timed (the first allocates and picks kernels). The peer is the same trainer's
loss computation on its epoch-0 batches under ``torch.no_grad()`` (the forward pass alone),
best of 2 after a warm run. Tokens are the rows' non-padding tokens, the same in every epoch.

Two adapters, each its own row: the default LoRA (r=32, alpha 32, every linear layer of every
decoder layer) and the same LoRA on the upper third of the decoder layers only
(``training.sft.lora.layers_to_transform``), whose backward pass stops at the first adapted layer.
A training step costs a forward, a backward (about twice a forward) and the optimiser step:
the goal is SFT at >= 0.25 of the forward-only rate. Run:
``python -m benchmarks.training_throughput [--threads N]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import publish, result_row
from settings.offline import apply_offline_defaults

apply_offline_defaults()

GOAL = 0.25
# Short answers to training.generic.REPLAY_INSTRUCTIONS: a compile trains short answers.
SHORT_ANSWERS = {
    "Name a primary colour.": "Red.",
    "What is the opposite of hot?": "Cold.",
    "Give a synonym for happy.": "Joyful.",
    "What do bees make?": "Honey.",
    "What is the plural of mouse?": "Mice.",
    "Which animal is known as man's best friend?": "The dog.",
    "What gas do plants take in from the air?": "Carbon dioxide.",
    "How many legs does a spider have?": "Eight.",
    "What is the freezing point of water in Celsius?": "0 °C.",
    "What is the largest ocean on Earth?": "The Pacific Ocean.",
    "Which planet is known as the Red Planet?": "Mars.",
    "What is the past tense of run?": "Ran.",
    "What language is spoken in Brazil?": "Portuguese.",
    "What is the main ingredient of guacamole?": "Avocado.",
    "What do you call a baby cat?": "A kitten.",
    "What shape has three sides?": "A triangle.",
    "What is 7 times 8?": "56.",
    "What is the square root of 81?": "9.",
    "Which metal is liquid at room temperature?": "Mercury.",
    "Who wrote Romeo and Juliet?": "William Shakespeare.",
    "What is the chemical symbol for gold?": "Au.",
    "What is the capital of Japan?": "Tokyo.",
    "Which continent is Egypt in?": "Africa.",
    "What is the boiling point of water in Celsius?": "100 °C.",
    "What does a thermometer measure?": "Temperature.",
    "What is the longest river in Africa?": "The Nile.",
    "Which organ pumps blood through the body?": "The heart.",
    "How many minutes are in an hour?": "Sixty.",
    "What is the first letter of the Greek alphabet?": "Alpha.",
    "What do caterpillars turn into?": "Butterflies or moths.",
    "What is the currency of the United Kingdom?": "The pound sterling.",
    "What is H2O commonly called?": "Water.",
    "Which season comes after spring?": "Summer.",
    "What is the tallest animal?": "The giraffe.",
    "How many sides does a hexagon have?": "Six.",
    "What is the opposite of north?": "South.",
    "Which instrument has black and white keys?": "The piano.",
    "What is the capital of Italy?": "Rome.",
    "What is the largest planet in the solar system?": "Jupiter.",
    "What do you call frozen water?": "Ice.",
}


def qa_rows(n: int) -> list[dict[str, Any]]:
    """``n`` prompt-completion rows: the replay instructions with short answers, cycled."""
    from training.generic import REPLAY_INSTRUCTIONS
    from training.prompting import prompt_messages

    pairs = [(q, SHORT_ANSWERS[q]) for q in REPLAY_INSTRUCTIONS if q in SHORT_ANSWERS]
    if not pairs:
        raise RuntimeError("no replay instruction has a short answer in SHORT_ANSWERS")
    return [{"prompt": prompt_messages(q), "completion": [{"role": "assistant", "content": a}]}
            for q, a in (pairs[i % len(pairs)] for i in range(n))]


def upper_third(n_layers: int) -> list[int]:
    """The decoder layers of the upper third (the last ``n_layers // 3``, at least one)."""
    return list(range(n_layers - max(1, n_layers // 3), n_layers))


def linear_module_names(model: Any) -> list[str]:
    """The names of the decoder's linear layers (what peft's "all-linear" adapts), sorted."""
    import torch

    output = model.get_output_embeddings()
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and module is not output})


def measure(path: Path, rows: list[dict[str, Any]], batch_size: int,
            layers: list[int] | None, work: Path) -> dict[str, Any]:
    """Train two epochs (time the second) and time forward-only passes over the same rows."""
    import torch
    from transformers import TrainerCallback

    from training.base_model import load_causal_lm
    from training.sft import SFTSettings, build_sft_trainer, default_sft_config

    class EpochTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []
            self._started = 0.0

        def on_epoch_begin(self, args, state, control, **kwargs):
            self._started = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self._started)

    model, tok = load_causal_lm(path)
    # peft refuses layers_to_transform with target_modules="all-linear" (a str): name the
    # same modules (every linear layer but the output embedding) instead.
    targets = "all-linear" if layers is None else linear_module_names(model)
    settings = SFTSettings(trainer=default_sft_config(
        num_train_epochs=2, per_device_train_batch_size=batch_size, save_strategy="no",
        logging_steps=10_000), lora={"target_modules": targets, "layers_to_transform": layers},
        eval_questions=0)
    timer = EpochTimer()
    trainer = build_sft_trainer(model, tok, rows, settings, work, [timer])
    batches = [trainer._prepare_inputs(b) for b in trainer.get_train_dataloader()]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    padded = sum(int(b["attention_mask"].numel()) for b in batches)

    def forward_only() -> float:
        trainer.model.eval()
        started = time.perf_counter()
        with torch.no_grad():
            for batch in batches:
                trainer.compute_loss(trainer.model, batch)
        return time.perf_counter() - started

    forward_only()  # warm: first calls allocate and pick kernels
    forward_s = min(forward_only(), forward_only())
    trainer.train()
    return {"tokens": tokens, "padded_tokens": padded, "batches": len(batches),
            "forward_s": forward_s, "train_s": timer.seconds[-1],
            "epoch_seconds": [round(s, 2) for s in timer.seconds],
            "optimiser_steps": trainer.state.global_step,
            "trainable_parameters": sum(p.numel() for p in trainer.model.parameters()
                                        if p.requires_grad),
            "lora": {"r": settings.lora.r, "alpha": settings.lora.lora_alpha,
                     "target_modules": targets, "layers": layers or "all"}}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: see training.trainers.torch_threads)")
    parser.add_argument("--models-dir", type=Path, help="default: $KC_HOME/models")
    args = parser.parse_args(argv)

    import os

    import torch
    from transformers import AutoConfig

    from benchmarks.models import base_model

    torch.set_num_threads(args.threads)
    path, label = base_model(args.models_dir)
    n_layers = AutoConfig.from_pretrained(path, local_files_only=True).num_hidden_layers
    rows = qa_rows(args.rows)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kc-bench-train-") as tmp:
        measured = {name: measure(path, rows, args.batch_size, layers, Path(tmp) / name)
                    for name, layers in (("all", None), ("upper", upper_third(n_layers)))}
    full = measured["all"]["tokens"] / measured["all"]["train_s"]
    rows_out = []
    for name, title in (("all", "LoRA SFT tokens/s (r=32, all layers)"),
                        ("upper", f"LoRA SFT tokens/s (r=32, upper {n_layers // 3} of "
                                  f"{n_layers} layers)")):
        m = measured[name]
        ours, theirs = m["tokens"] / m["train_s"], m["tokens"] / m["forward_s"]
        rows_out.append(result_row(
            title, "forward-only tokens/s (same model, rows)", ours, theirs, "tokens/s",
            ours / theirs, f">= {GOAL}", ours / theirs >= GOAL,
            model=label, batches=m["batches"], optimiser_steps=m["optimiser_steps"],
            tokens=m["tokens"], padded_tokens=m["padded_tokens"], batch_size=args.batch_size,
            **{"train s (timed epoch 2)": round(m["train_s"], 2),
               "epoch s": m["epoch_seconds"], "forward s": round(m["forward_s"], 2),
               "SFT speed vs all layers": round(ours / full, 2)},
            trainable_parameters=m["trainable_parameters"], torch_threads=args.threads,
            load_average=round(load, 2), lora=json.dumps(m["lora"])))
    notes = (f"{__doc__} Shared machine: {os.cpu_count()} cores, 1-minute load average "
             f"{load:.2f} at the start (other jobs run beside it; the ratio moves less than the "
             "absolute figures).")
    publish("training_throughput", rows_out, notes=notes)
    return rows_out


if __name__ == "__main__":
    main()
