"""Evaluation figures: accuracy, latency, tokens, memory, gain recovery, stale errors, capacity.

Accuracy is `training.answers` exact match and token F1 (one normalisation for training and
evaluation). Every figure here is a pure function of its inputs, so tests pin exact values.
"""

from __future__ import annotations

import math
import re
import resource
import sys
import tracemalloc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from training.answers import exact_match, normalize_answer, short_answer_contains, token_f1

__all__ = [
    "PeakMemory",
    "answer_in_text",
    "bits_per_parameter",
    "exact_match",
    "gain_recovery",
    "mean",
    "mean_contained",
    "mean_exact_match",
    "mean_f1",
    "percentile",
    "rss_peak_bytes",
    "stale_error",
    "stale_error_rate",
    "token_f1",
    "track_peak_memory",
]


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, None for no values (a figure that was not measured, not a zero)."""
    items = list(values)
    return sum(items) / len(items) if items else None


def mean_exact_match(predictions: Sequence[str], golds: Sequence[str | Sequence[str]]
                     ) -> float | None:
    """Share of predictions that exactly match (normalised) one of their gold answers."""
    _same_length(predictions, golds)
    return mean(exact_match(p, g) for p, g in zip(predictions, golds, strict=True))


def mean_contained(predictions: Sequence[str], golds: Sequence[str | Sequence[str]]
                   ) -> float | None:
    """Share of answers of at most 12 words that contain a gold answer (a sentence-shaped
    answer an exact match would miss: "The capital of France is Paris.")."""
    _same_length(predictions, golds)
    return mean(short_answer_contains(p, g) for p, g in zip(predictions, golds, strict=True))


def mean_f1(predictions: Sequence[str], golds: Sequence[str | Sequence[str]]) -> float | None:
    """Mean SQuAD token F1, each prediction scored against its best gold answer."""
    _same_length(predictions, golds)
    return mean(token_f1(p, g) for p, g in zip(predictions, golds, strict=True))


def _same_length(predictions: Sequence[str], golds: Sequence[object]) -> None:
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} gold answers")


def percentile(values: Iterable[float], q: float) -> float | None:
    """The `q`-th percentile (0-100) with linear interpolation between ranks (numpy's default).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    items = sorted(values)
    if not items:
        return None
    position = (len(items) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return items[low] + (items[high] - items[low]) * (position - low)


def gain_recovery(base: float | None, compiled: float | None, rag: float | None,
                  rag_ceiling: float | None = None) -> float | None:
    """(compiled - base) / (ref - base), ref = max(rag, rag_ceiling): the share of what
    retrieval gains over the base model that the compiled model recovers without retrieval.

    None when a figure is missing or the reference does not beat the base (denominator <= 0).

    >>> gain_recovery(0.25, 0.5, 0.5, 0.75)
    0.5
    """
    refs = [r for r in (rag, rag_ceiling) if r is not None]
    if base is None or compiled is None or not refs:
        return None
    denominator = max(refs) - base
    if denominator <= 0:
        return None
    return (compiled - base) / denominator


def stale_error(prediction: str, old_answers: str | Sequence[str],
                new_answers: str | Sequence[str]) -> bool:
    """True when the prediction gives an outdated answer (and not the current one)."""
    return bool(exact_match(prediction, old_answers)) and not exact_match(prediction, new_answers)


def stale_error_rate(predictions: Sequence[str], old_answers: Sequence[str | Sequence[str]],
                     new_answers: Sequence[str | Sequence[str]]) -> float | None:
    """Share of regression questions answered with the superseded (old) answer."""
    _same_length(predictions, old_answers)
    _same_length(predictions, new_answers)
    return mean(float(stale_error(p, o, n))
                for p, o, n in zip(predictions, old_answers, new_answers, strict=True))


def answer_in_text(answers: str | Sequence[str], text: str) -> bool:
    """True when a normalised answer occurs in the normalised text on whole-word boundaries.

    >>> answer_in_text("$1,800", "The budget is $1,800 per year.")
    True
    >>> answer_in_text("180", "The budget is $1,800 per year.")
    False
    >>> answer_in_text("8443", "It listens on port 8443.\\nThe relay is new.")
    True
    """
    # Word by word: normalising a whole passage would glue sentences ("8443. The" becomes
    # "8443.the"), since `normalize_answer` keeps "." between two letters or digits.
    haystack = [t for word in text.split() for t in _tokens(word)]
    golds = [answers] if isinstance(answers, str) else list(answers)
    for gold in golds:
        needle = _tokens(gold)
        width = len(needle)
        if width and any(haystack[i:i + width] == needle
                         for i in range(len(haystack) - width + 1)):
            return True
    return False


_TOKEN = re.compile(r"[$%]|[^\s$%]+")


def _tokens(text: str) -> list[str]:
    # `normalize_answer` glues "$" and "%" to their neighbours ("is$1800"): split them off so
    # matching is on whole tokens.
    return _TOKEN.findall(normalize_answer(text))


def bits_per_parameter(fact_bits: float, trainable_parameters: int) -> float:
    """Bits of facts stored per trainable parameter (e.g. facts recalled x bits per fact)."""
    if trainable_parameters <= 0:
        raise ValueError(f"trainable_parameters must be positive, got {trainable_parameters}")
    if fact_bits < 0:
        raise ValueError(f"fact_bits must not be negative, got {fact_bits}")
    return fact_bits / trainable_parameters


def rss_peak_bytes() -> int:
    """The process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class PeakMemory:
    """Peak memory of a block, two ways.

    - `python_peak_bytes`: tracemalloc's peak of Python-heap allocations made inside the block
      (torch tensors live outside it, so this misses model activations).
    - `rss_growth_bytes`: growth of the process's peak RSS (getrusage ru_maxrss) over the
      block: 0 when the block stayed below an earlier peak, so it is a lower bound.
    """

    python_peak_bytes: int = 0
    rss_growth_bytes: int = 0


@contextmanager
def track_peak_memory(python_heap: bool = False) -> Iterator[PeakMemory]:
    """Measure a block's peak memory; tracemalloc (slow) only when `python_heap` is asked."""
    result = PeakMemory()
    rss_before = rss_peak_bytes()
    started_tracing = python_heap and not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    if python_heap:
        tracemalloc.reset_peak()
    try:
        yield result
    finally:
        if python_heap:
            result.python_peak_bytes = tracemalloc.get_traced_memory()[1]
        if started_tracing:
            tracemalloc.stop()
        result.rss_growth_bytes = max(0, rss_peak_bytes() - rss_before)
