"""Context distillation: the base reading a fact's chunk teaches the adapter answering closed-book.

The teacher is the base model with the fact's chunk in its prompt; the student is the adapter
with the question alone. On every answer token (teacher-forced on the gold answer) the student
is pulled towards the teacher's top-k next-token probabilities with a KL term, beside (or, for
`objective="distill"`, instead of) the usual cross-entropy on the gold answer. The teacher's
probabilities are computed once, before training, and cached beside the run (keyed by the
base, the rows and k), so a resumed or repeated run does not read the chunks again.

The student never sees the chunk: a closed-book example that carried its passage would teach the
model to read, not to remember ("contextual shadowing").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.prompting import QA, prompt_messages, target_answer
from training.trainers import ResumableSFTTrainer

OBJECTIVES = ("sft", "distill", "both")


@dataclass(frozen=True)
class TeacherTargets:
    """The teacher's top-k next-token ids and probabilities at each answer token."""

    ids: list[list[int]]
    probs: list[list[float]]


def completion_ids(tokenizer: Any, qa: QA) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) of a closed-book example, split where trl splits them:
    the completion is what the full conversation adds after the prompt with its generation
    header."""
    prompt = prompt_messages(qa.question, qa.passages)
    answer = [{"role": "assistant", "content": target_answer(qa)}]
    head = list(tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True,
                                              return_dict=True)["input_ids"])
    full = list(tokenizer.apply_chat_template(prompt + answer, tokenize=True,
                                              return_dict=True)["input_ids"])
    return head, full[len(head):]


@torch.no_grad()
def teacher_targets(model: Any, tokenizer: Any, items: Sequence[tuple[QA, str]], top_k: int,
                    batch_size: int = 8) -> list[TeacherTargets]:
    """For each (closed-book example, passage): the base reading the passage, teacher-forced on
    the example's completion; its top-k distribution at every completion token."""
    was_training = model.training
    model.eval()
    out: list[TeacherTargets] = []
    try:
        for start in range(0, len(items), batch_size):
            rows, spans = [], []
            for qa, passage in items[start:start + batch_size]:
                _, completion = completion_ids(tokenizer, qa)
                head, _ = completion_ids(tokenizer, QA(qa.question, qa.answer, (passage,)))
                rows.append(head + completion)
                spans.append((len(head), len(completion)))
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, row in enumerate(rows):  # right padding: positions stay 0..n-1
                ids[i, :len(row)] = torch.tensor(row)
                mask[i, :len(row)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            for i, (head_len, n) in enumerate(spans):
                # logits at t-1 predict token t: the completion starts at head_len
                probs = logits[i, head_len - 1:head_len - 1 + n].softmax(-1)
                top = probs.topk(top_k, dim=-1)
                out.append(TeacherTargets(
                    top.indices.tolist(),
                    [[round(p, 6) for p in row] for row in top.values.tolist()]))
    finally:
        model.train(was_training)
    return out


def cached_teacher_targets(cache_dir: Path, base_id: str, model: Any, tokenizer: Any,
                           items: Sequence[tuple[QA, str]], top_k: int) -> list[TeacherTargets]:
    """`teacher_targets`, read from `cache_dir` when the same base, rows and k were seen."""
    key = hashlib.sha256(json.dumps(
        [base_id, top_k, [[qa.question, target_answer(qa), p] for qa, p in items]]).encode()
    ).hexdigest()[:16]
    path = cache_dir / f"teacher-top{top_k}-{key}.json"
    if path.exists():
        return [TeacherTargets(**t) for t in json.loads(path.read_text())]
    targets = teacher_targets(model, tokenizer, items, top_k)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([t.__dict__ for t in targets]))
    tmp.replace(path)
    return targets


def attach_targets(rows: list[dict[str, Any]], targets: Mapping[int, TeacherTargets]
                   ) -> list[dict[str, Any]]:
    """Rows with `teacher_ids`/`teacher_probs` (empty where the row has no teacher: replay,
    notes, reading examples) so every row has the same columns."""
    return [{**row, "teacher_ids": targets[i].ids if i in targets else [],
             "teacher_probs": targets[i].probs if i in targets else []}
            for i, row in enumerate(rows)]


class DistillCollator:
    """trl's collator, plus the teacher's top-k laid on the label positions they belong to."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.taught = self.misaligned = 0  # rows given their teacher / refused for length

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        teacher = [(e.pop("teacher_ids", []), e.pop("teacher_probs", [])) for e in examples]
        batch = self.base(examples)
        labels = batch["labels"]
        k = max((len(ids[0]) for ids, _ in teacher if ids), default=1)
        ids = torch.zeros((*labels.shape, k), dtype=torch.long)
        probs = torch.zeros((*labels.shape, k))
        for row, (t_ids, t_probs) in enumerate(teacher):
            positions = (labels[row] != -100).nonzero().flatten()
            if not t_ids:
                continue
            if len(positions) != len(t_ids):  # truncated or tokenised otherwise: no teacher
                self.misaligned += 1
                continue
            ids[row, positions] = torch.tensor(t_ids)
            probs[row, positions] = torch.tensor(t_probs)
            self.taught += 1
        batch["teacher_ids"], batch["teacher_probs"] = ids, probs
        return batch


def distill_loss(logits: torch.Tensor, labels: torch.Tensor, teacher_ids: torch.Tensor,
                 teacher_probs: torch.Tensor, objective: str, weight: float
                 ) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy on the gold answer and KL(teacher || student) on the teacher's top-k
    (renormalised), over the answer tokens where the teacher's first choice is the gold token.
    With `distill`, those tokens take the KL only; the others (no teacher: replay, notes; or a
    teacher that would say something else) keep the cross-entropy.

    Why only where the teacher agrees: a small base reading the chunk knows the fact but not
    the answer format. Its first answer token is mostly a sentence opening ("The ..."), so the
    KL taught the 135M student to answer in sentences that drifted off the fact (hand-written
    exact match 0.0 at 1x and 3x against 0.024 and 0.073 for plain SFT; README, "Learning
    curve"). Where it agrees with the gold token, its other probabilities are the dark
    knowledge worth copying."""
    logp = logits[:, :-1].float().log_softmax(-1)
    gold, t_ids, t_probs = labels[:, 1:], teacher_ids[:, 1:], teacher_probs[:, 1:]
    answer = gold != -100
    agrees = t_ids[..., 0] == gold
    taught = answer & (t_probs.sum(-1) > 0) & agrees
    ce = -logp.gather(-1, gold.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    p = t_probs / t_probs.sum(-1, keepdim=True).clamp(min=1e-9)
    kl = (p * (p.clamp(min=1e-9).log() - logp.gather(-1, t_ids))).sum(-1)
    ce_mask = answer & ~taught if objective == "distill" else answer
    n = answer.sum().clamp(min=1)
    loss = (ce * ce_mask).sum() / n + weight * (kl * taught).sum() / n
    return loss, {"ce": float((ce * answer).sum() / n),
                  "kl": float((kl * taught).sum() / taught.sum().clamp(min=1))}


class DistillSFTTrainer(ResumableSFTTrainer):
    """`ResumableSFTTrainer` whose loss is `distill_loss`."""

    def __init__(self, *args: Any, objective: str, weight: float, **kwargs: Any) -> None:
        if objective not in OBJECTIVES[1:]:
            raise ValueError(f"objective must be one of {OBJECTIVES[1:]}, got {objective!r}")
        super().__init__(*args, **kwargs)
        self.objective, self.weight = objective, weight
        self.data_collator = DistillCollator(self.data_collator)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns = [*self._signature_columns, "teacher_ids", "teacher_probs"]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher_ids, teacher_probs = inputs.pop("teacher_ids"), inputs.pop("teacher_probs")
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss, parts = distill_loss(outputs.logits, labels, teacher_ids.to(labels.device),
                                   teacher_probs.to(labels.device), self.objective, self.weight)
        if model.training:  # trl's own loss counts the tokens; this one must too
            self._last_parts = parts
            self._total_train_tokens += int(inputs["attention_mask"].sum())
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        """The two parts of the loss beside it: `distill_ce` and `distill_kl`."""
        parts = getattr(self, "_last_parts", None)
        if parts is not None and "loss" in logs:
            logs = {**logs, "distill_ce": parts["ce"], "distill_kl": parts["kl"]}
        super().log(logs, *args, **kwargs)
