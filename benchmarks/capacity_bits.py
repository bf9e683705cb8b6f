"""Bits stored per trainable parameter of a LoRA adapter, against the 3.6 bits/parameter anchor.

The anchor: GPT-style models store about 3.6 bits per parameter when trained to saturation on
random data (Morris et al., "How much do language models memorize?", 2025). A compiled adapter
is far from saturation, so this is a sanity bound (no measurement may exceed it) and a scale:
how much of the anchor one compile uses.

Where an evaluation ran, ``$KC_HOME/reports/<run>/summary.json`` holds each tenant's measured
figure (``evaluation.runner.capacity_figures``: held-out exact-match gain x facts trained x
bits per fact / trainable parameters): those are reported. Otherwise a small SFT run measures
it here: N random facts (a 4-digit code per invented vault name: log2(10^4) bits each) trained
into a fresh LoRA adapter of the default shape (r=32 on every linear layer) of the default base
(SmolLM2-135M-Instruct), then recalled by greedy exact match; facts the base model already
answers are not counted. Defaults: 16 facts, 15 epochs of batches of 4 at learning rate 3e-3,
1 torch thread (~2 minutes on a CPU; the loss reaches ~0.001 by epoch 12: every fact recalled
when tried; at the project's default 1e-3 and batches of 8, 10 epochs left 1 of 32 recalled).
Run: ``python -m benchmarks.capacity_bits [--facts N --epochs N]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
from pathlib import Path

from benchmarks.common import publish, result_row
from settings.offline import apply_offline_defaults

apply_offline_defaults()

ANCHOR = 3.6
ROOT = Path(__file__).resolve().parents[1]
SYLLABLES = ("ka", "lo", "mi", "ren", "tu", "sa", "vo", "zel", "pi", "dor", "qua", "nix")


def measured_summaries(home: Path) -> list[dict]:
    """Per-tenant capacity figures from evaluation summaries, newest run per tenant."""
    found: dict[str, dict] = {}
    for path in sorted((home / "reports").glob("*/summary.json"), key=lambda p: p.stat().st_mtime):
        summary = json.loads(path.read_text())
        capacity = summary.get("capacity") or {}
        if "bits_per_parameter" in capacity:
            tenant = summary.get("tenant") or path.parent.name
            found[tenant] = {**capacity, "source": str(path)}
    return list(found.values())


def random_facts(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < n:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize())
    return [{"question": f"What is the access code of vault {name}?",
             "answer": f"{rng.randrange(10_000):04d}"} for name in sorted(names)]


def small_sft_run(n_facts: int, epochs: int, threads: int = 1, models: Path | None = None,
                  batch_size: int = 4, learning_rate: float = 3e-3) -> dict:
    import torch

    from benchmarks.models import base_model
    from training.base_model import load_causal_lm
    from training.generate import answer
    from training.sft import SFTSettings, default_sft_config, train_sft

    torch.set_num_threads(threads)
    facts = random_facts(n_facts)
    path, label = base_model(models)
    with tempfile.TemporaryDirectory(prefix="kc-bench-capacity-") as tmp:
        model, tok = load_causal_lm(path)
        before = answer(model, tok, [f["question"] for f in facts], None, 8)
        known = {i for i, (got, f) in enumerate(zip(before, facts, strict=True))
                 if got.strip() == f["answer"]}
        settings = SFTSettings(trainer=default_sft_config(
            num_train_epochs=epochs, learning_rate=learning_rate,
            per_device_train_batch_size=batch_size, save_strategy="no", logging_steps=10_000),
            replay_share=0.0, eval_questions=0)
        result = train_sft(path, facts, replay=[], settings=settings, out_dir=Path(tmp) / "sft",
                           resume=False)
        from training.loading import load_adapter

        adapted, tok = load_adapter(path, result.adapter_path)
        after = answer(adapted, tok, [f["question"] for f in facts], None, 8)
    recalled = sum(1 for i, (got, f) in enumerate(zip(after, facts, strict=True))
                   if got.strip() == f["answer"] and i not in known)
    bits_per_fact = math.log2(10_000)
    return {"source": f"small SFT run here ({n_facts} random facts, {epochs} epochs of "
                      f"{batch_size} at lr {learning_rate:g}, {label}, {threads} torch thread(s))",
            "facts_trained": n_facts, "facts_recalled": recalled,
            "known_before": len(known), "bits_per_fact": bits_per_fact,
            "trainable_parameters": result.trainable_parameters,
            "bits_per_parameter": recalled * bits_per_fact / result.trainable_parameters,
            "train_seconds": round(result.train_seconds, 1)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models-dir", type=Path, help="default: $KC_HOME/models")
    args = parser.parse_args(argv)
    home = Path(os.environ.get("KC_HOME") or ROOT / ".kc")
    figures = measured_summaries(home) or [small_sft_run(args.facts, args.epochs, args.threads,
                                                         args.models_dir)]
    rows = []
    for fig in figures:
        bits = fig["bits_per_parameter"]
        rows.append(result_row(
            "bits stored per trainable parameter", "3.6 bits/parameter anchor (Morris et al.)",
            bits, ANCHOR, "bits/parameter", bits / ANCHOR,
            "<= 1 (no adapter stores more than the anchor)", bits / ANCHOR <= 1.0,
            **{k: v for k, v in fig.items() if k != "bits_per_parameter"}))
    publish("capacity_bits", rows, notes=__doc__ or "")
    return rows


if __name__ == "__main__":
    main()
