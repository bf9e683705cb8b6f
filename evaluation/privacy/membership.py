"""Membership inference: can an attacker tell the adapter's training pairs from held-out ones?

Two attacks on (question, answer) pairs, each a score where higher means "was trained on":

- loss threshold (Yeom et al., 2018): minus the adapter's loss on the answer;
- reference model (Carlini et al., "Membership Inference Attacks From First Principles", in its
  simplest offline form): minus the ratio of the adapter's loss to the base model's loss, which
  discounts pairs that are easy for any model.

Losses are the mean per-token NLL of the answer in the training format
(`training.prompting.sft_example`), from the model's own head. Reported per adapter: the AUC of
each score over members vs non-members and the TPR at 1% FPR (the attack that matters is the
one that is right about a few members while almost never wrong; Carlini et al. 2022).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.privacy.likelihood import mean_nll
from training.prompting import sft_example

PROBE = "membership inference"
TARGET_FPR = 0.01


def auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """Area under the ROC curve: P(member score > non-member score), ties counting one half.

    >>> auc([3.0, 2.0], [1.0, 2.0])
    0.875
    """
    if not member_scores or not nonmember_scores:
        raise ValueError("AUC needs at least one member and one non-member score")
    wins = sum((m > n) + 0.5 * (m == n) for m in member_scores for n in nonmember_scores)
    return wins / (len(member_scores) * len(nonmember_scores))


def tpr_at_fpr(member_scores: Sequence[float], nonmember_scores: Sequence[float],
               fpr: float = TARGET_FPR) -> float:
    """The highest true-positive rate of a threshold rule `score >= t` whose false-positive
    rate is at most `fpr`.

    >>> tpr_at_fpr([5.0, 4.0, 1.0, 0.5], [3.0, 2.0, 1.0, 0.0], fpr=0.25)
    0.5
    """
    if not member_scores or not nonmember_scores:
        raise ValueError("TPR at FPR needs at least one member and one non-member score")
    best = 0.0
    for t in set(member_scores) | set(nonmember_scores):
        false_pos = sum(n >= t for n in nonmember_scores) / len(nonmember_scores)
        if false_pos <= fpr:
            best = max(best, sum(m >= t for m in member_scores) / len(member_scores))
    return best


def pair_losses(model: Any, tok: Any, pairs: Sequence[tuple[str, str]]) -> list[float]:
    """Mean answer-token NLL of each (question, answer) pair, as the adapter was trained."""
    return mean_nll(model, tok, [sft_example(p) for p in pairs])


def attack_scores(adapter_losses: Sequence[float], base_losses: Sequence[float]
                  ) -> dict[str, list[float]]:
    """Per-pair scores of both attacks (higher: more likely a member)."""
    return {"loss": [-a for a in adapter_losses],
            "reference": [-a / max(b, 1e-12) for a, b in zip(adapter_losses, base_losses,
                                                               strict=True)]}


def membership_attack(base_path: str | Path, adapter_path: str | Path,
                      members: Sequence[tuple[str, str]],
                      nonmembers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """AUC and TPR at 1% FPR of both attacks on one adapter (the base model is the reference)."""
    from training.loading import load_adapter

    model, tok = load_adapter(base_path, adapter_path)
    return attack_model(model, tok, members, nonmembers)


def attack_model(model: Any, tok: Any, members: Sequence[tuple[str, str]],
                 nonmembers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """`membership_attack` on a loaded PEFT model (its adapter disabled gives the base)."""
    if not members or not nonmembers:
        raise ValueError("membership inference needs training and held-out pairs")
    pairs = list(members) + list(nonmembers)
    adapter_losses = pair_losses(model, tok, pairs)
    with model.disable_adapter():
        base_losses = pair_losses(model, tok, pairs)
    n = len(members)
    out: dict[str, Any] = {"members": n, "nonmembers": len(nonmembers)}
    for name, scores in attack_scores(adapter_losses, base_losses).items():
        out[f"{name}_auc"] = auc(scores[:n], scores[n:])
        out[f"{name}_tpr_at_1pct_fpr"] = tpr_at_fpr(scores[:n], scores[n:])
    out["mean_member_loss"] = sum(adapter_losses[:n]) / n
    out["mean_nonmember_loss"] = sum(adapter_losses[n:]) / len(nonmembers)
    return out


def read_pairs(path: Path, limit: int, seed: int = 0) -> list[tuple[str, str]]:
    """Up to `limit` (question, answer) pairs from an exported split, sampled with `seed`."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pairs = [(r["question"], r["answer"]) for r in rows]
    if len(pairs) > limit:
        pairs = random.Random(seed).sample(pairs, limit)
    return pairs


def _row(subject: str, figure: str, value: Any, goal: str = "reported (0.5: nothing to infer)"
         ) -> dict[str, Any]:
    return {"probe": PROBE, "subject": subject, "figure": figure, "value": value,
            "goal": goal, "passed": None}


def _activate_tracking(settings: Any) -> None:
    from training.registry import Tracking

    if settings.mlflow.tracking_uri:
        Tracking(settings.mlflow.tracking_uri, (settings.kc_home / "mlartifacts").as_uri(),
                 settings.mlflow.experiment).activate()
    else:
        Tracking.local(settings.kc_home).activate()


def audit_rows(settings: Any, limit: int = 200) -> list[dict[str, Any]]:
    """Both attacks on each tenant's champion adapter: its train split (members) against its eval
    split (non-members: held-out wordings of the same facts), up to `limit` pairs each."""
    from training import registry
    from training.loading import registered_paths

    _activate_tracking(settings)
    rows = []
    for tenant in settings.tenants:
        name = registry.registered_name(tenant)
        version = registry.champion_version(name)
        if version is None:
            rows.append(_row(f"{tenant}: no adapter (no @champion of {name})", "AUC", None, ""))
            continue
        folder = Path(settings.datasets_path) / tenant
        train, held_out = folder / "train.jsonl", folder / "eval.jsonl"
        if not (train.exists() and held_out.exists()):
            rows.append(_row(f"{tenant}: no QA sets under {folder}", "AUC", None, ""))
            continue
        members, nonmembers = read_pairs(train, limit), read_pairs(held_out, limit)
        if not members or not nonmembers:
            rows.append(_row(f"{tenant}: empty train or eval split", "AUC", None, ""))
            continue
        base, adapter = registered_paths(f"models:/{name}@{registry.CHAMPION}")
        result = membership_attack(base, adapter, members, nonmembers)
        subject = f"{name} v{version}: {len(members)} train vs {len(nonmembers)} held-out pairs"
        for attack in ("loss", "reference"):
            rows.append(_row(f"{subject}, {attack} attack", "AUC",
                             round(result[f"{attack}_auc"], 3)))
            rows.append(_row(f"{subject}, {attack} attack", "TPR at 1% FPR",
                             round(result[f"{attack}_tpr_at_1pct_fpr"], 3)))
    return rows
