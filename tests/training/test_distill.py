"""Context distillation: the loss, the teacher's targets lined up with trl's labels, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.training.test_base_support import one_cpu_thread, tiny_base  # noqa: F401
from training import distill
from training.distill import TeacherTargets, cached_teacher_targets, distill_loss
from training.prompting import QA
from training.sft import SFTSettings, train_sft


def _teacher(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels, ids and probabilities of a teacher equal to the student, answering positions 2-3
    with its own first choices (so it agrees with the gold tokens)."""
    top = logits[0, 1:3].softmax(-1).topk(10)
    labels = torch.tensor([[-100, -100, *top.indices[:, 0].tolist()]])
    ids = torch.zeros(1, 4, 10, dtype=torch.long)
    t_probs = torch.zeros(1, 4, 10)
    ids[0, 2:4], t_probs[0, 2:4] = top.indices, top.values
    return labels, ids, t_probs


def test_kl_vanishes_when_the_student_matches_the_teacher() -> None:
    logits = torch.randn(1, 4, 10)
    labels, ids, t_probs = _teacher(logits)
    loss, parts = distill_loss(logits, labels, ids, t_probs, "distill", 1.0)
    assert parts["kl"] == pytest.approx(0.0, abs=1e-5) and float(loss) == pytest.approx(0, abs=1e-5)
    both, parts_both = distill_loss(logits, labels, ids, t_probs, "both", 1.0)
    assert float(both) == pytest.approx(parts_both["ce"], rel=1e-4) and parts_both["ce"] > 0
    untaught = torch.zeros_like(t_probs)  # no teacher (replay, notes): cross-entropy only
    ce_only, _ = distill_loss(logits, labels, ids, untaught, "distill", 1.0)
    assert float(ce_only) == pytest.approx(parts_both["ce"], rel=1e-4)


def test_a_teacher_that_would_say_another_token_teaches_nothing_there() -> None:
    logits = torch.randn(1, 4, 10)
    labels, ids, t_probs = _teacher(logits)
    disagree = labels.clone()
    disagree[0, 3] = int(ids[0, 3, 1])  # gold is the teacher's second choice at the last token
    ce = -logits[0, 2].log_softmax(-1)[disagree[0, 3]]
    loss, parts = distill_loss(logits, disagree, ids, t_probs, "distill", 1.0)
    # the first answer token: KL 0 (teacher = student); the second: the gold's cross-entropy
    assert float(loss) == pytest.approx(float(ce) / 2, rel=1e-4) and parts["kl"] < 1e-5


def test_teacher_targets_are_cached_by_base_rows_and_k(tmp_path: Path, monkeypatch) -> None:
    from training.base_model import load_causal_lm

    model, tok = load_causal_lm(tiny_base())
    items = [(QA("Who owns billing?", "Lena Brook"), "Billing is owned by Lena Brook.")]
    first = cached_teacher_targets(tmp_path, "tiny", model, tok, items, top_k=4)
    assert len(first) == 1 and all(len(row) == 4 for row in first[0].ids)
    assert abs(sum(first[0].probs[0]) - 1) < 1 and first[0].probs[0] == sorted(first[0].probs[0],
                                                                                reverse=True)

    def fail(*args, **kwargs) -> list[TeacherTargets]:
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(distill, "teacher_targets", fail)
    assert cached_teacher_targets(tmp_path, "tiny", model, tok, items, top_k=4) == first


def test_distillation_trains_with_every_taught_row_aligned(tmp_path: Path) -> None:
    examples = [{"question": f"What is the code of item {i}?", "answer": f"NW-{i:03d}",
                 "chunk_id": f"c{i % 2}"} for i in range(6)]
    passages = {"c0": "Items 0, 2, 4 carry even codes.", "c1": "Items 1, 3, 5 carry odd codes."}
    settings = SFTSettings.from_dict({
        "objective": "both", "distill_top_k": 4, "eval_questions": 0, "replay_share": 0.0,
        "trainer": {"max_steps": 2, "per_device_train_batch_size": 3, "logging_steps": 1,
                    "save_steps": 2}})
    seen: list = []
    original = distill.DistillCollator.__call__

    def spy(self, examples):
        batch = original(self, examples)
        seen.append((self.taught, self.misaligned))
        return batch

    distill.DistillCollator.__call__ = spy
    try:
        result = train_sft(tiny_base(), examples, replay=[], settings=settings,
                           out_dir=tmp_path / "run", teacher_passages=passages)
    finally:
        distill.DistillCollator.__call__ = original
    assert result.global_step == 2 and (result.adapter_path / "adapter_config.json").exists()
    assert result.train_tokens > 0 and result.tokens_per_second > 0
    assert seen[-1] == (6, 0)  # every closed-book row got its teacher, none misaligned
    assert list((tmp_path / "teacher-cache").glob("teacher-top4-*.json"))
    with pytest.raises(ValueError, match="chunk_id"):
        train_sft(tiny_base(), [{"question": "q?", "answer": "a"}], replay=[],
                  settings=settings, out_dir=tmp_path / "none", teacher_passages=passages)
