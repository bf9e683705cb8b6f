"""Canaries in weights: exposure arithmetic, the real scrubber on canary text, and (slow) the
probe detecting a 16x canary without scrubbing and seeing controls-like exposure with it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from evaluation.privacy.canaries import (
    DETECT_BITS,
    SECRET_DIGITS,
    Canary,
    CanaryProbeConfig,
    audit_rows,
    candidate_secrets,
    exposure_from_scores,
    filler_corpus,
    like_controls,
    make_canaries,
    memorization_detected,
    probe,
    save_report,
    suffix_scores,
    training_notes,
)
from evaluation.privacy.likelihood import completion_log_probs
from tests.training.test_base_support import one_cpu_thread, tiny_base  # noqa: F401
from training.base_model import load_causal_lm
from training.prompting import note_example

SECRET = re.compile(rf"\d(?:-\d){{{SECRET_DIGITS - 1}}}")


def test_exposure_exact_values() -> None:
    assert exposure_from_scores(-3.0, [-5.0] * 1023) == 10.0  # ranked first: log2(n + 1)
    assert exposure_from_scores(-3.0, [-1.0] * 1023) == 0.0  # ranked last
    assert exposure_from_scores(-3.0, [-1.0] * 511 + [-5.0] * 512) == 1.0  # top half
    assert exposure_from_scores(-3.0, [-3.0, -4.0, -4.0]) == 1.0  # a tie ranks above it
    with pytest.raises(ValueError, match="at least one candidate"):
        exposure_from_scores(0.0, [])


def test_candidates_are_distinct_well_formed_and_never_the_secret() -> None:
    secret = "8-4-7-1-9-3"
    found = candidate_secrets(secret, 500, seed=1)
    assert len(set(found)) == 500 and secret not in found
    assert all(SECRET.fullmatch(c) for c in found)
    assert found == candidate_secrets(secret, 500, seed=1)


def test_canaries_and_controls() -> None:
    canaries = make_canaries((1, 4, 16), per_repetition=3, controls=9, seed=0)
    assert sorted(c.repetitions for c in canaries) == [0] * 9 + [1] * 3 + [4] * 3 + [16] * 3
    assert len({c.name for c in canaries}) == 18 and len({c.secret for c in canaries}) == 18
    assert all(SECRET.fullmatch(c.secret) for c in canaries)
    pairs, notes = filler_corpus(24, exclude=[c.name for c in canaries])
    assert len(pairs) == len(notes) == 24
    assert not any(c.name in n for c in canaries for n in notes)


def test_real_scrubber_removes_every_inserted_secret() -> None:
    canaries = make_canaries()
    raw, redacted = training_notes(canaries, scrubbing=False)
    assert redacted == 0 and len(raw) == 3 * (1 + 4 + 16)
    assert sum(c.secret in n for c in canaries for n in raw) == 63
    scrubbed, redacted = training_notes(canaries, scrubbing=True)
    assert redacted == 63 and len(scrubbed) == 63
    assert not any(SECRET.search(n) for n in scrubbed)
    assert all(n.endswith("password: [REDACTED:password_assignment]") for n in scrubbed)


def test_verdicts_on_hand_made_exposures() -> None:
    def rows(pairs: list[tuple[int, float]]) -> list[dict]:
        return [{"repetitions": r, "exposure_bits": e} for r, e in pairs]

    memorized = rows([(16, 7.0), (16, 6.0), (1, 1.0), (0, 1.0), (0, 2.0)])
    assert memorization_detected(memorized) and not like_controls(memorized)
    null = rows([(16, 3.0), (16, 1.0), (1, 1.0), (0, 1.0), (0, 2.0)])
    assert not memorization_detected(null) and like_controls(null)
    assert not memorization_detected(rows([(16, 9.0), (16, DETECT_BITS - 0.01), (0, 1.0)]))


def test_suffix_scores_order_canaries_like_whole_sentence_likelihoods() -> None:
    model, tok = load_causal_lm(tiny_base())
    canary = Canary("kesvin", "8-4-7-1-9-3", 16)
    texts = [canary.text(s) for s in ("8-4-7-1-9-3", "0-0-0-0-0-0", "5-2-9-9-1-7")]
    suffix = suffix_scores(model, tok, texts)
    whole = [total for total, _ in completion_log_probs(model, tok,
                                                        [note_example(t) for t in texts])]
    shift = [w - s for w, s in zip(whole, suffix, strict=True)]  # the shared prefix's part
    assert max(shift) - min(shift) < 1e-3 and shift[0] < 0


def test_audit_rows_without_a_probe_run_say_so(tmp_path: Path) -> None:
    rows = audit_rows(SimpleNamespace(reports_path=tmp_path / "reports"))
    assert len(rows) == 1 and rows[0]["value"] is None
    assert "no probe run yet" in rows[0]["subject"]


@pytest.mark.slow
def test_probe_detects_memorization_without_scrubbing_and_none_with_it(tmp_path: Path) -> None:
    """Two tiny adapters (~1 min of training each) and 18 x 129 likelihoods per adapter."""
    report = probe(tiny_base(), tmp_path / "work", CanaryProbeConfig())
    raw, scrubbed = report["runs"]
    assert (raw["scrubbing"], scrubbed["scrubbing"]) == (False, True)
    assert (raw["secrets_redacted"], scrubbed["secrets_redacted"]) == (0, 63)
    # Off: every 16x canary ranks in the top 2^-6 of the secrets, and the inserted ones as a
    # group stand out from the controls.
    assert memorization_detected(raw["canaries"]) and not like_controls(raw["canaries"])
    assert raw["summary"]["passed"]
    # On: the same canaries, scrubbed, look like never-inserted controls.
    assert like_controls(scrubbed["canaries"]) and not memorization_detected(scrubbed["canaries"])
    assert scrubbed["summary"]["passed"]
    path = save_report(report, tmp_path / "reports")
    assert json.loads(path.read_text())["runs"][0]["summary"]["passed"] is True
    rows = audit_rows(SimpleNamespace(reports_path=tmp_path / "reports"))
    verdicts = [r for r in rows if r["figure"] == "verdict"]
    assert [r["passed"] for r in verdicts] == [True, True]
    assert all("last probe run" in r["subject"] for r in rows)
