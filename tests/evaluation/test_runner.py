"""The runner's summary shape on the tiny model, and the promotion decision both ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answering import AnsweringModel, ArmSettings
from evaluation.question_sets import Question
from evaluation.report import write_report
from evaluation.runner import arm_figures, bundles_for_arms, evaluate, promotion_decision
from retrieval import ChunkIndex
from tests.answering.fixtures import principal_for

SETS = {
    "heldout_synthetic": [
        Question("p1", "Who owns Zarnik Pay?", ("Lena Brook",), "acme", "heldout_synthetic"),
        Question("p2", "Which port does the Orvik Relay listen on?", ("8443",), "acme",
                 "heldout_synthetic")],
    "stale": [Question("s1", "What does error KX-19 mean?", ("disk quota exceeded",), "acme",
                       "stale", old_answers=("disk full",))],
}


def test_runner_summary_shape(base_bundle: AnsweringModel, compiled_bundle: AnsweringModel,
                              index: ChunkIndex, tmp_path: Path) -> None:
    models = bundles_for_arms(base_bundle, compiled_bundle, compiled_bundle)
    result = evaluate(SETS, models, index, principal_for,
                      ArmSettings(k=2, max_new_tokens=3, batch_size=2),
                      model_info={"tenant": "acme"})
    summary = json.loads(result.write_json(tmp_path).read_text())
    assert set(summary["results"]) == {"heldout_synthetic", "stale"}
    held = summary["results"]["heldout_synthetic"]
    assert set(held) == {"base", "compiled", "compiled_sft", "rag", "full_context", "hybrid",
                         "rag_ceiling"}
    for arm, figures in held.items():
        assert figures["n"] == 2
        assert {"n", "exact_match", "f1", "latency_p50_s", "prompt_tokens"} <= set(figures)
        assert 0.0 <= figures["exact_match"] <= 1.0, arm
    assert held["rag_ceiling"]["exact_match"] == 1.0  # both answers are in the top-2 chunks
    assert held["rag_ceiling"]["f1"] is None and held["rag_ceiling"]["prompt_tokens"] is None
    assert held["full_context"]["truncated_share"] == 0.0
    assert held["rag"]["prompt_tokens"] > held["base"]["prompt_tokens"]
    assert "stale_error_rate" in summary["results"]["stale"]["compiled"]
    assert set(summary["stale_error_rate"]) == {"base", "compiled", "compiled_sft", "rag",
                                                "full_context", "hybrid"}
    assert set(summary["gain_recovery"]) == {"heldout_synthetic", "stale"}
    assert summary["models"]["tenant"] == "acme"
    assert summary["models"]["readers"]["hybrid"] == "tiny-compiled"
    assert summary["examples"]["heldout_synthetic"]["rag"][0]["citations"]
    lines = (tmp_path / "answers.jsonl").read_text().splitlines()
    assert len(lines) == 3 * 6
    page = write_report(result, tmp_path / "report")
    assert {p.name for p in page.parent.iterdir()} == {"index.html", "summary.md",
                                                        "summary.json", "answers.jsonl"}
    assert page.read_text().count("<img") == 3


def test_runner_arm_figures_exact() -> None:
    from answering import Answer

    qs = [Question("a", "q", ("Lena Brook",), "t", "stale", old_answers=("Tam",)),
          Question("b", "q", ("8443",), "t", "stale", old_answers=("80",))]
    answers = [Answer("lena brook", "base", [], 10, 1.0, "m"),
               Answer("80", "base", [], 20, 3.0, "m")]
    figures = arm_figures(qs, answers)
    assert figures["n"] == 2 and figures["exact_match"] == 0.5 and figures["f1"] == 0.5
    assert figures["latency_p50_s"] == 2.0 and figures["latency_p95_s"] == pytest.approx(2.9)
    assert figures["prompt_tokens"] == 15.0 and figures["stale_error_rate"] == 0.5


def _summary(heldout: float, static: float, stale: float | None = 0.0) -> dict:
    results = {"heldout_synthetic": {"compiled": {"exact_match": heldout}},
               "handwritten_static": {"compiled": {"exact_match": static}}}
    if stale is not None:
        results["stale"] = {"compiled": {"exact_match": 0.5, "stale_error_rate": stale}}
    return {"results": results}


def test_promotion_decision_both_ways() -> None:
    champion = _summary(0.5, 0.4)
    first = promotion_decision(_summary(0.1, 0.1), None)
    assert first.promote and "no champion" in first.reason
    better = promotion_decision(_summary(0.6, 0.4), champion)
    assert better.promote
    assert better.figures["sets"]["heldout_synthetic"] == {"candidate": 0.6, "champion": 0.5}
    worse = promotion_decision(_summary(0.6, 0.3), champion)
    assert not worse.promote and "handwritten_static 0.300 < champion 0.400" in worse.reason
    assert promotion_decision(_summary(0.48, 0.4), champion, tolerance=0.05).promote
    stale = promotion_decision(_summary(0.9, 0.9, stale=0.5), champion, max_stale_error=0.2)
    assert not stale.promote and "stale-fact error rate 0.500" in stale.reason
    assert not promotion_decision(_summary(0.9, 0.9, stale=0.5), None, max_stale_error=0.2).promote
    assert promotion_decision(_summary(0.5, 0.4, stale=None), champion).promote
    nothing = promotion_decision({"results": {}}, champion)
    assert not nothing.promote and "no held-out set" in nothing.reason


def test_runner_forgetting_counts_only_what_the_base_knew() -> None:
    from training.generic import FORGETTING_QUESTIONS, forgetting

    golds = [golds[0] for _, golds in FORGETTING_QUESTIONS]
    base = [f"It is {g}." for g in golds[:10]] + ["I do not know."] * (len(golds) - 10)
    adapter = list(base)
    adapter[0] = adapter[1] = "8443"  # two known answers lost
    adapter[12] = golds[12]  # gaining one the base missed does not count
    assert forgetting(base, adapter) == {"known": 10, "kept": 8,
                                         "forgetting": pytest.approx(0.2)}
    assert forgetting(["no"] * len(golds), adapter)["forgetting"] is None


def test_runner_forgetting_answers_with_both_models(base_bundle: AnsweringModel,
                                                    compiled_bundle: AnsweringModel) -> None:
    from evaluation.runner import forgetting
    from training.generic import FORGETTING_QUESTIONS

    figures = forgetting(base_bundle, compiled_bundle, max_new_tokens=3)
    assert len(figures["base_answers"]) == len(FORGETTING_QUESTIONS)
    assert len(figures["compiled_answers"]) == len(FORGETTING_QUESTIONS)
    assert figures["known"] >= figures["kept"] >= 0


def test_runner_capacity_needs_both_arms() -> None:
    from evaluation.runner import capacity_figures

    assert capacity_figures({"results": {}}, 10, 24.0, 100) == {}
    worse = capacity_figures({"results": {"heldout_synthetic": {
        "base": {"exact_match": 0.5}, "compiled": {"exact_match": 0.25}}}}, 10, 24.0, 100)
    assert worse["facts_recalled"] == 0.0 and worse["bits_per_parameter"] == 0.0
