"""Shared helpers for benchmarks: timing, JSON output, markdown tables."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
# Every benchmark's rows carry these columns (more may follow as details).
COLUMNS = ("benchmark", "peer", "ours", "theirs", "unit", "ratio", "goal", "passed")


def result_row(benchmark: str, peer: str, ours: object, theirs: object, unit: str,
               ratio: float | None, goal: str, passed: bool | None, **detail: object) -> dict:
    """One result: our figure and the peer's, measured in the same run, and the goal.

    ``ratio`` is ours / theirs unless the benchmark says otherwise in ``goal``; ``passed``
    is None where there is no goal (a figure reported for context).
    """
    return {"benchmark": benchmark, "peer": peer, "ours": ours, "theirs": theirs,
            "unit": unit, "ratio": ratio, "goal": goal, "passed": passed, **detail}


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Minimum wall time of ``repeat`` runs: the least noisy estimate on a shared machine."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, rows: list[dict], notes: str = "") -> Path:
    """Write ``benchmarks/out/<name>.json`` with machine facts; return its path."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({
        "benchmark": name, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or
                    platform.machine(), "cores": _cores()},
        "notes": notes, "rows": rows}, indent=2))
    return path


def publish(name: str, rows: list[dict], notes: str = "",
            columns: list[str] | None = None) -> Path:
    """Write the rows (``write_results``) and print them as a table with the file's path."""
    path = write_results(name, rows, notes=notes)
    print(markdown_table(rows, columns or list(rows[0])))
    print(f"written {path}")
    return path


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |\n" for r in rows)
    return head + body


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)
