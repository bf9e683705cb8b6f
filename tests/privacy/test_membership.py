"""Membership inference: exact metrics, an attack that finds an overfitted adapter's training
pairs, and the audit rows read from the registry."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest
from transformers import set_seed

from evaluation.privacy.canaries import filler_corpus
from evaluation.privacy.membership import (
    attack_scores,
    auc,
    audit_rows,
    membership_attack,
    tpr_at_fpr,
)
from tests.training.test_base_support import one_cpu_thread, tiny_base  # noqa: F401
from training import registry
from training.mlflow_model import log_adapter
from training.sft import SFTSettings, default_sft_config, train_sft

PAIRS, _ = filler_corpus(24, seed=3)
MEMBERS, NONMEMBERS = PAIRS[:12], PAIRS[12:]


def test_auc_exact_values() -> None:
    assert auc([3.0, 2.0], [1.0, 2.0]) == 0.875
    assert auc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert auc([5.0], [1.0, 2.0, 3.0]) == 1.0
    assert auc([1.0, 1.0], [1.0]) == 0.5  # all ties: chance
    with pytest.raises(ValueError, match="at least one"):
        auc([], [1.0])


def test_tpr_at_fpr_exact_values() -> None:
    members, nonmembers = [5.0, 4.0, 1.0, 0.5], [3.0, 2.0, 1.0, 0.0]
    assert tpr_at_fpr(members, nonmembers, fpr=0.25) == 0.5  # threshold 3: one false positive
    assert tpr_at_fpr(members, nonmembers, fpr=0.0) == 0.5  # threshold 4
    assert tpr_at_fpr(members, nonmembers, fpr=0.5) == 0.5  # threshold 2 adds no member
    assert tpr_at_fpr(members, nonmembers, fpr=0.7) == 0.5  # threshold 1 costs 3 of 4
    assert tpr_at_fpr(members, nonmembers, fpr=0.75) == 1.0  # threshold 0.5
    # 1% FPR on 100 non-members allows exactly one of them above the threshold
    nonmembers = [float(i) for i in range(100)]
    assert tpr_at_fpr([98.5, 99.5, 100.5, 50.0], nonmembers, fpr=0.01) == 0.75
    assert tpr_at_fpr([98.5, 99.5, 100.5, 50.0], nonmembers, fpr=0.0) == 0.5
    assert tpr_at_fpr([1.0], [2.0], fpr=0.01) == 0.0


def test_attack_scores_rank_low_loss_and_low_ratio_as_members() -> None:
    scores = attack_scores([0.5, 2.0], [4.0, 2.0])
    assert scores == {"loss": [-0.5, -2.0], "reference": [-0.125, -1.0]}


@functools.cache
def overfit_adapter() -> Path:
    """A tiny adapter trained on MEMBERS only until their loss is near 0 (~30 s; shared by the
    tests below). At 5e-3 some initialisations stalled at a loss of ~3.5 (AUC 0.84)."""
    out = Path(tempfile.mkdtemp(prefix="kc-mia-")) / "sft"
    set_seed(0)  # the LoRA weights are drawn before the Trainer seeds: same adapter in any order
    settings = SFTSettings(trainer=default_sft_config(
        learning_rate=2e-3, num_train_epochs=40, per_device_train_batch_size=4,
        save_strategy="no", logging_steps=10), replay_share=0.0, eval_questions=0)
    return train_sft(tiny_base(), MEMBERS, settings=settings, out_dir=out).adapter_path


@pytest.mark.slow
def test_attacks_tell_an_overfitted_adapters_training_pairs() -> None:
    result = membership_attack(tiny_base(), overfit_adapter(), MEMBERS, NONMEMBERS)
    assert (result["members"], result["nonmembers"]) == (12, 12)
    assert result["mean_member_loss"] < result["mean_nonmember_loss"]
    assert result["loss_auc"] >= 0.9
    assert result["reference_auc"] >= 0.9
    # with 12 non-members, 1% FPR means no non-member above the threshold
    assert result["loss_tpr_at_1pct_fpr"] > 0.0


def _settings(home: Path, tenants: list[str]) -> SimpleNamespace:
    return SimpleNamespace(tenants=tenants, kc_home=home, datasets_path=home / "datasets",
                           mlflow=SimpleNamespace(tracking_uri=None,
                                                  experiment="knowledge-compiler"))


@pytest.mark.slow
def test_audit_rows_attack_each_champion_and_say_when_there_is_none(tmp_path: Path) -> None:
    home = tmp_path / "kc"
    folder = home / "datasets" / "finance"
    folder.mkdir(parents=True)
    for split, pairs in (("train", MEMBERS), ("eval", NONMEMBERS)):
        (folder / f"{split}.jsonl").write_text("".join(
            json.dumps({"question": q, "answer": a}) + "\n" for q, a in pairs))
    registry.Tracking.local(home).activate()
    try:
        with mlflow.start_run() as run:
            log_adapter(overfit_adapter(), base_model=str(tiny_base()))
        lineage = registry.Lineage("c", "q", "m", "g", "kc-base", "b", "sft", "finance", ("d1",))
        registry.register_version(run.info.run_id, "adapter", "kc-finance", lineage)
        rows = audit_rows(_settings(home, ["finance", "legal"]))
    finally:
        mlflow.set_tracking_uri("")
    assert {tuple(sorted(r)) for r in rows} == {
        ("figure", "goal", "passed", "probe", "subject", "value")}
    finance = [r for r in rows if r["subject"].startswith("kc-finance v1")]
    assert [(r["subject"].split(", ")[-1], r["figure"]) for r in finance] == [
        ("loss attack", "AUC"), ("loss attack", "TPR at 1% FPR"),
        ("reference attack", "AUC"), ("reference attack", "TPR at 1% FPR")]
    assert "12 train vs 12 held-out" in finance[0]["subject"]
    assert finance[0]["value"] >= 0.9
    legal = [r for r in rows if r["subject"].startswith("legal")]
    assert len(legal) == 1 and "no adapter" in legal[0]["subject"] and legal[0]["value"] is None
