"""Evaluation figures with exact values."""

from __future__ import annotations

import pytest

from evaluation.metrics import (
    answer_in_text,
    bits_per_parameter,
    gain_recovery,
    mean,
    mean_exact_match,
    mean_f1,
    percentile,
    stale_error,
    stale_error_rate,
    track_peak_memory,
)


def test_metrics_accuracy_exact_values() -> None:
    preds = ["lena o ' brook", "port 8443 on eu-west", "nope", "$ 1, 800"]
    golds = ["Lena O'Brook", "8443", ("yes", "maybe"), ["1800 dollars", "$1,800"]]
    assert mean_exact_match(preds, golds) == 0.5
    assert mean_f1(preds, golds) == pytest.approx((1.0 + 0.4 + 0.0 + 1.0) / 4)
    assert mean_exact_match([], []) is None
    with pytest.raises(ValueError, match="2 predictions but 1"):
        mean_exact_match(["a", "b"], ["a"])


def test_metrics_percentiles_and_mean() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert mean([1, 2, 3, 6]) == 3.0
    assert mean([]) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_metrics_gain_recovery() -> None:
    assert gain_recovery(0.1, 0.4, 0.5, 0.7) == pytest.approx(0.5)
    assert gain_recovery(0.2, 0.5, 0.8) == pytest.approx(0.5)
    assert gain_recovery(0.2, 0.1, 0.6, None) == pytest.approx(-0.25)
    assert gain_recovery(0.5, 0.6, 0.5, 0.4) is None  # reference does not beat the base
    assert gain_recovery(None, 0.6, 0.9) is None
    assert gain_recovery(0.1, 0.6, None, None) is None


def test_metrics_stale_errors() -> None:
    assert stale_error("disk full", "Disk full", "disk quota exceeded")
    assert not stale_error("disk quota exceeded", "disk full", "disk quota exceeded")
    assert not stale_error("something else", "disk full", "disk quota exceeded")
    rate = stale_error_rate(["disk full", "ada vance", "x", "tam oskel"],
                            ["disk full", "Tam Oskel", "y", "Tam Oskel"],
                            ["quota", "Ada Vance", "z", "Ada Vance"])
    assert rate == 0.5


def test_metrics_answer_in_text_and_bits() -> None:
    assert answer_in_text("$1,800", "The budget is $1,800 per year.")
    assert not answer_in_text("180", "The budget is $1,800 per year.")
    assert answer_in_text(["nope", "Lena Brook"], "Zarnik Pay is owned by Lena Brook.")
    assert bits_per_parameter(1000.0, 500) == 2.0
    with pytest.raises(ValueError):
        bits_per_parameter(1.0, 0)


def test_metrics_peak_memory_reports_python_heap() -> None:
    with track_peak_memory(python_heap=True) as memory:
        block = bytearray(5_000_000)
    assert len(block) == 5_000_000
    assert memory.python_peak_bytes >= 5_000_000
    assert memory.rss_growth_bytes >= 0
