"""Run every arm on every question set and summarise; the promotion decision.

`summary.json` is shaped:

    {"results": {QSET: {ARM: {"n", "exact_match", "f1", "latency_p50_s", "prompt_tokens",
                              "latency_p95_s", "reader", ...}}},
     "gain_recovery": {QSET: float | null}, "models": {...}, ...}

EM/F1 are fractions in [0, 1]; `rag_ceiling` has `n` and `exact_match` (= the ceiling), its
other fields null. Extra keys: `truncated_share` / `share_fit` (full_context), `context_share`
(share of questions given context: hybrid), `stale_error_rate` (stale set), `peak_rss_growth_bytes`
(getrusage ru_maxrss growth during the arm: a lower bound, see `metrics.PeakMemory`),
`examples` (a few answers with citations per set and arm).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from answering import (
    ARMS,
    Answer,
    AnsweringModel,
    ArmSettings,
    CorpusCache,
    PrincipalFor,
    answer_questions,
    resolve_principal,
    retrieve,
)
from evaluation.metrics import (
    answer_in_text,
    gain_recovery,
    mean,
    mean_contained,
    mean_exact_match,
    mean_f1,
    percentile,
    stale_error_rate,
    track_peak_memory,
)
from evaluation.question_sets import QUESTION_SETS, Question
from retrieval.index import ChunkIndex

SUMMARY_ARMS = (*ARMS[:5], "rag_ceiling", ARMS[5])  # base ... full_context, rag_ceiling, hybrid
HELD_OUT_SETS = ("heldout_synthetic", "handwritten_static")


@dataclass
class EvaluationResult:
    """Every answer, and the summary built from them."""

    summary: dict[str, Any]
    answers: dict[str, dict[str, list[Answer]]] = field(default_factory=dict)
    questions: dict[str, list[Question]] = field(default_factory=dict)

    def write_json(self, out_dir: str | Path) -> Path:
        """`summary.json` and `answers.jsonl` in `out_dir`; returns the summary's path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "summary.json"
        path.write_text(json.dumps(self.summary, indent=2, sort_keys=True, default=str))
        with (out / "answers.jsonl").open("w") as f:
            for qset, by_arm in self.answers.items():
                for answers in by_arm.values():
                    for q, a in zip(self.questions[qset], answers, strict=True):
                        f.write(json.dumps({"qset": qset, "qid": q.qid, "gold": list(q.answers),
                                            **a.to_json()}, default=str) + "\n")
        return path


def arm_figures(questions: Sequence[Question], answers: Sequence[Answer]) -> dict[str, Any]:
    """n, EM, F1, latency p50/p95, mean prompt tokens and the arm-specific extras."""
    texts = [a.text for a in answers]
    golds = [q.answers for q in questions]
    figures: dict[str, Any] = {
        "n": len(answers),
        "exact_match": mean_exact_match(texts, golds),
        "f1": mean_f1(texts, golds),
        "contained": mean_contained(texts, golds),
        "latency_p50_s": percentile([a.latency_s for a in answers], 50),
        "latency_p95_s": percentile([a.latency_s for a in answers], 95),
        "prompt_tokens": mean(a.prompt_tokens for a in answers),
        "reader": answers[0].reader if answers else None,
        "context_share": mean(float(a.context_added) for a in answers),
    }
    if any(a.truncated is not None for a in answers):
        figures["truncated_share"] = mean(float(bool(a.truncated)) for a in answers)
        figures["share_fit"] = mean(a.share_fit for a in answers if a.share_fit is not None)
    if any(a.prefill_s is not None for a in answers):
        figures["prefill_s"] = max(a.prefill_s or 0.0 for a in answers)
    if any(q.old_answers for q in questions):
        figures["stale_error_rate"] = stale_error_rate(
            texts, [q.old_answers for q in questions], golds)
    return figures


def _ceiling_figures(value: float | None, n: int) -> dict[str, Any]:
    return {"n": n, "exact_match": value, "f1": None, "latency_p50_s": None,
            "prompt_tokens": None}


def _examples(questions: Sequence[Question], answers: Sequence[Answer],
              n: int) -> list[dict[str, Any]]:
    return [{"qid": q.qid, "question": q.question, "gold": q.answer,
             "golds": list(q.answers), "answer": a.text, "citations": a.citations[:3]}
            for q, a in list(zip(questions, answers, strict=True))[:n]]


def evaluate(sets: Mapping[str, Sequence[Question]], models: Mapping[str, AnsweringModel],
             index: ChunkIndex | None = None, principal: PrincipalFor | None = None,
             settings: ArmSettings | None = None, arms: Sequence[str] | None = None,
             ceiling: bool = True, model_info: Mapping[str, Any] | None = None,
             n_examples: int = 5) -> EvaluationResult:
    """Answer every set with every arm in `arms` (default: each arm that has a model in
    `models`, keyed by arm — see `arms.bundles_for_arms`) and summarise.

    `principal` is one Principal or a function tenant -> Principal (each question's tenant).
    Context arms and the RAG ceiling need `index` and `principal`; `model_info` is copied
    into the summary's `models` (names, paths, MLflow versions).
    """
    settings = settings or ArmSettings()
    unknown = sorted(set(sets) - set(QUESTION_SETS))
    if unknown:
        raise ValueError(f"unknown question sets {unknown}: expected some of {QUESTION_SETS}")
    chosen = [a for a in (arms or ARMS) if a in models]
    missing = sorted(set(arms or ()) - set(models))
    if missing:
        raise ValueError(f"no model given for arms {missing}")
    started = time.perf_counter()
    corpus = CorpusCache()
    results: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, list[Answer]]] = {}
    examples: dict[str, dict[str, Any]] = {}
    for qset, questions in sets.items():
        if not questions:
            continue
        texts = [q.question for q in questions]
        tenants = [q.tenant for q in questions]
        results[qset], answers[qset], examples[qset] = {}, {}, {}
        for arm in chosen:
            with track_peak_memory() as memory:
                got = answer_questions(texts, arm, models[arm], index, principal, settings,
                                       tenants, corpus)
            figures = arm_figures(questions, got)
            figures["peak_rss_growth_bytes"] = memory.rss_growth_bytes
            results[qset][arm] = figures
            answers[qset][arm] = got
            examples[qset][arm] = _examples(questions, got, n_examples)
        if ceiling and index is not None and principal is not None:
            value, _ = rag_ceiling(texts, [q.answers for q in questions], index, principal,
                                   settings, tenants)
            results[qset]["rag_ceiling"] = _ceiling_figures(value, len(questions))
    summary = {
        "results": results,
        "gain_recovery": {qset: _gain(by_arm) for qset, by_arm in results.items()},
        "models": dict(model_info or {}) | {
            "readers": {arm: models[arm].name for arm in chosen},
            "windows": {arm: models[arm].window for arm in chosen}},
        "settings": {"k": settings.k, "mode": settings.mode,
                     "max_new_tokens": settings.max_new_tokens,
                     "batch_size": settings.batch_size,
                     "hybrid_routes": sorted(settings.hybrid_routes),
                     "hybrid_gate": settings.hybrid_gate},
        "examples": examples,
        "stale_error_rate": {arm: f.get("stale_error_rate")
                             for arm, f in results.get("stale", {}).items()
                             if "stale_error_rate" in f},
        "seconds": time.perf_counter() - started,
        "host": platform.node(),
    }
    return EvaluationResult(summary, answers, {k: list(v) for k, v in sets.items() if v})


def forgetting(base: AnsweringModel, compiled: AnsweringModel,
               max_new_tokens: int = 12) -> dict[str, Any]:
    """The generic questions the base answers (`training.generic`), before and after the
    adapter: `{"known", "kept", "forgetting", "base_answers", "compiled_answers"}`."""
    from training import generic

    before = generic.forgetting_answers(base.model, base.tokenizer, max_new_tokens)
    after = generic.forgetting_answers(compiled.model, compiled.tokenizer, max_new_tokens)
    return {**generic.forgetting(before, after), "base_answers": before,
            "compiled_answers": after}


def capacity_figures(summary: Mapping[str, Any], facts_trained: int, bits_per_fact: float,
                     trainable_parameters: int) -> dict[str, Any]:
    """Bits stored per trainable parameter: facts recalled (held-out exact-match gain of the
    compiled arm over the base, times the facts trained) x bits per fact / trainable params.

    >>> f = capacity_figures({"results": {"heldout_synthetic": {"base": {"exact_match": 0.1},
    ...     "compiled": {"exact_match": 0.6}}}}, 400, 24.0, 675_840)
    >>> f["facts_recalled"], round(f["bits_per_parameter"], 5)
    (200.0, 0.0071)
    """
    from evaluation.metrics import bits_per_parameter

    heldout = summary.get("results", {}).get("heldout_synthetic", {})
    base, compiled = _em(heldout, "base"), _em(heldout, "compiled")
    if base is None or compiled is None:
        return {}
    recalled = max(0.0, compiled - base) * facts_trained
    return {"facts_trained": facts_trained, "heldout_gain": compiled - base,
            "facts_recalled": recalled, "bits_per_fact": bits_per_fact,
            "trainable_parameters": trainable_parameters,
            "bits_per_parameter": bits_per_parameter(recalled * bits_per_fact,
                                                     trainable_parameters)}


def _em(by_arm: Mapping[str, Any], arm: str) -> float | None:
    return (by_arm.get(arm) or {}).get("exact_match")


def _gain(by_arm: Mapping[str, Any]) -> float | None:
    return gain_recovery(_em(by_arm, "base"), _em(by_arm, "compiled"), _em(by_arm, "rag"),
                         _em(by_arm, "rag_ceiling"))


# ---------------------------------------------------------------- promotion
@dataclass
class Decision:
    promote: bool
    reason: str
    figures: dict[str, Any]


def promotion_decision(candidate_summary: Mapping[str, Any],
                       champion_summary: Mapping[str, Any] | None,
                       sets: Sequence[str] = HELD_OUT_SETS, arm: str = "compiled",
                       max_stale_error: float = 0.2, tolerance: float = 0.0) -> Decision:
    """Promote the candidate only if its `arm` is at least as accurate (EM, minus `tolerance`)
    as the champion's on every held-out set both summaries have, and its stale-fact error rate
    (stale set, same arm) is at most `max_stale_error`. No champion: promote if the stale check
    passes. A candidate without a stale set passes that check (there is nothing to regress).
    """
    results = candidate_summary.get("results", {})
    stale = (results.get("stale", {}).get(arm) or {}).get("stale_error_rate")
    figures: dict[str, Any] = {"stale_error_rate": stale, "max_stale_error": max_stale_error,
                               "sets": {}}
    if stale is not None and stale > max_stale_error:
        return Decision(False, f"stale-fact error rate {stale:.3f} exceeds {max_stale_error:.3f}",
                        figures)
    if champion_summary is None:
        return Decision(True, "no champion: the first passing candidate is promoted", figures)
    champion = champion_summary.get("results", {})
    worse = []
    for qset in sets:
        new, old = _em(results.get(qset, {}), arm), _em(champion.get(qset, {}), arm)
        figures["sets"][qset] = {"candidate": new, "champion": old}
        if new is None or old is None:
            continue
        if new < old - tolerance:
            worse.append(f"{qset} {new:.3f} < champion {old:.3f}")
    compared = [s for s, f in figures["sets"].items()
                if f["candidate"] is not None and f["champion"] is not None]
    if not compared:
        return Decision(False, f"no held-out set among {list(sets)} was scored for both the "
                        "candidate and the champion", figures)
    if worse:
        return Decision(False, "less accurate than the champion: " + "; ".join(worse), figures)
    return Decision(True, "at least as accurate as the champion on " + ", ".join(compared)
                    + " and within the stale-fact limit", figures)


def rag_ceiling(questions: Sequence[str], golds: Sequence[str | Sequence[str]],
                index: ChunkIndex, principal: PrincipalFor, settings: ArmSettings | None = None,
                tenants: Sequence[str] | None = None) -> tuple[float | None, list[bool]]:
    """Share of questions whose normalised answer occurs in the normalised top-k text (all
    routes): the best any reader could do with this retrieval. Also the per-question flags."""
    settings = settings or ArmSettings()
    if len(golds) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(golds)} gold answers")
    flags = []
    for i, (question, gold) in enumerate(zip(questions, golds, strict=True)):
        who = resolve_principal(principal, tenants[i] if tenants else None)
        assert who is not None
        hits = retrieve(index, question, who, settings)
        flags.append(answer_in_text(gold, "\n".join(h.text for h in hits)))
    return (sum(flags) / len(flags) if flags else None), flags


def bundles_for_arms(base: AnsweringModel, compiled: AnsweringModel | None = None,
                     compiled_sft: AnsweringModel | None = None) -> Mapping[str, AnsweringModel]:
    """Which model each arm reads with: the adapter for every arm but `base` (one model reads
    and remembers); without an adapter the context arms read with the base."""
    out = {"base": base, "rag": base, "full_context": base}
    if compiled is not None:
        out.update(compiled=compiled, hybrid=compiled, rag=compiled, full_context=compiled)
    if compiled_sft is not None:
        out["compiled_sft"] = compiled_sft
    return out
