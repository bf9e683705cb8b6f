"""LoRA SFT tokens/s against forward-only tokens/s, same model, same batches, one torch thread.

The SFT trainer of ``training/sft.py`` (trl ``SFTTrainer`` with our own-head loss and the
default LoRA adapter) runs one epoch over replay rows of kc-base; the peer is the same
trainer's loss computation on the same batches under ``torch.no_grad()`` (the forward pass
alone). Tokens are the non-padding tokens of those batches. A training step costs a forward, a
backward (about twice a forward) and the optimiser step: the goal is SFT at ≥ 0.25 of the
forward-only rate. Run: ``python -m benchmarks.training_throughput``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import publish, result_row
from knowledge_compiler.offline import apply_offline_defaults

apply_offline_defaults()

GOAL = 0.25


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    import torch

    from benchmarks.models import base_model
    from training.base_model import load_causal_lm, load_replay
    from training.sft import SFTSettings, build_sft_trainer, default_sft_config

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="kc-bench-train-") as tmp:
        path, label = base_model(Path(tmp))
        pool = load_replay(path)
        rows = [pool[i % len(pool)] for i in range(args.rows)]
        settings = SFTSettings(trainer=default_sft_config(
            num_train_epochs=1, per_device_train_batch_size=args.batch_size,
            save_strategy="no", logging_steps=10_000), eval_questions=0)
        model, tok = load_causal_lm(path)
        trainer = build_sft_trainer(model, tok, rows, settings, Path(tmp) / "sft")
        batches = [trainer._prepare_inputs(b) for b in trainer.get_train_dataloader()]
        tokens = sum(int(b["attention_mask"].sum()) for b in batches)

        def forward_only() -> float:
            trainer.model.eval()
            started = time.perf_counter()
            with torch.no_grad():
                for batch in batches:
                    trainer.compute_loss(trainer.model, batch)
            return time.perf_counter() - started

        forward_only()  # warm: first calls allocate and pick kernels
        forward_s = min(forward_only(), forward_only())
        started = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - started
        steps = trainer.state.global_step
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    ours, theirs = tokens / train_s, tokens / forward_s
    rows_out = [result_row(
        "LoRA SFT tokens/s", "forward-only tokens/s (same model, batches)", ours, theirs,
        "tokens/s", ours / theirs, f">= {GOAL}", ours / theirs >= GOAL,
        model=label, batches=len(batches), optimiser_steps=steps, tokens=tokens,
        batch_size=args.batch_size, trainable_parameters=trainable, torch_threads=1,
        lora=json.dumps({"r": settings.lora_r, "alpha": settings.lora_alpha,
                         "target_modules": settings.target_modules}))]
    publish("training_throughput", rows_out, notes=__doc__ or "")
    return rows_out


if __name__ == "__main__":
    main()
