"""`make bench`: run every benchmark side by side and write benchmarks/RESULTS.md (+ JSON).

Each benchmark is its own process (clean memory and thread settings, and its own peak
memory, read with ``os.wait4``) and writes ``benchmarks/out/<name>.json`` with rows of the
columns in ``benchmarks.common.COLUMNS``. This collects them into one summary table (every
row: the peer, both figures, the ratio, the goal, pass/fail), a peak-memory table, and the
details of each benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import COLUMNS, OUT, markdown_table, result_row

# (module, arguments, what its rows must cover) in the order they run.
BENCHMARKS: list[tuple[str, list[str], str]] = [
    ("ingestion_vs_parser", ["--repeat", "2"],
     "ingestion vs the raw parser per format; git history vs git log --numstat"),
    ("embedding_throughput", ["--quick"], "embedding + index write vs bare model.encode"),
    ("index_search", ["--bench"], "retrieval p50/p95 and recall@10 vs numpy exact, 10k and 100k"),
    ("incremental_refresh", [], "one-document refresh vs full run (training excluded)"),
    ("training_throughput", [], "LoRA SFT tokens/s vs forward-only tokens/s (SmolLM2-135M; "
     "LoRA on all layers and on the upper third)"),
    ("answer_latency", [], "compiled closed-book latency vs full context at ~1k, ~4k and the "
     "largest prompt that fits (SmolLM2-135M, 8k window)"),
    ("capacity_bits", [], "bits stored per trainable parameter vs the 3.6 anchor"),
    ("serve_latency", ["--publish"], "kc serve p50/p95 and requests/s at 1, 4 and 16 clients vs "
     "in-process answering (tiny model), peak memory with 1 and 10 adapters, switch cost"),
]
# Run by hand (not by `make bench`), shown in the details when their JSON exists.
EXTRA: list[tuple[str, str]] = [
    ("incremental_refresh_x10", "one-document refresh vs full run with the document sources "
     "grown to 10 copies of their files (`python -m benchmarks.incremental_refresh --copies "
     "10`, ~3 min)"),
]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MEMORY = "peak_memory"
MEMORY_GOAL = 0.25  # of the machine's memory: the stage must leave room for others
# Measured once by hand (the "before" code no longer exists to re-run): see that file's notes.
BEFORE_AFTER = "refresh_before_after"
# The figures of the base model used before the current one (kept by hand, never re-run): each
# row names the new row it sits under ("follows": [benchmark, peer], peer null: any peer) and
# the benchmark it belongs to ("module": a BENCHMARKS name, or "peak_memory").
PREVIOUS = "previous_base"


def machine_memory_mib() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/meminfo has no MemTotal")


def run_one(name: str, args: list[str]) -> tuple[int, float, float]:
    """Run ``benchmarks.<name>``; return its exit code, seconds and peak RSS in MiB."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", f"benchmarks.{name}", *args])
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux: the largest of the process and its waited-for children.
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024


def memory_rows(peaks: Mapping[str, float], total_mib: float) -> list[dict]:
    return [result_row(f"peak memory: {name}", "machine memory (MemTotal)", round(mib),
                       round(total_mib), "MiB", mib / total_mib, f"<= {MEMORY_GOAL}",
                       mib / total_mib <= MEMORY_GOAL)
            for name, mib in peaks.items()]


def with_previous(rows: list[dict], previous: list[dict], label: str) -> list[dict]:
    """``rows`` with each previous-base row right under the first row it ``follows``
    (unmatched ones at the end), renamed "<benchmark> — <label>" and judged by no goal (its
    goal says whether it was met then)."""
    out: list[dict] = []
    placed: set[int] = set()

    def old(row: dict) -> dict:
        passed = row.get("passed")
        then = "" if passed is None else f" (then: {'met' if passed else 'missed'})"
        return {**{k: v for k, v in row.items() if k not in ("follows", "module")},
                "benchmark": f"{row['benchmark']} — {label}",
                "goal": f"{row.get('goal') or ''}{then}", "passed": None}

    for row in rows:
        out.append(row)
        for i, prev in enumerate(previous):
            benchmark, peer = prev["follows"]
            if i not in placed and benchmark == row["benchmark"] and peer in (None, row["peer"]):
                out.append(old(prev))
                placed.add(i)
    return out + [old(prev) for i, prev in enumerate(previous) if i not in placed]


def render(results: Mapping[str, dict | None], memory: list[dict], minutes: float,
           before_after: dict | None = None, cores: int | None = None,
           only: list[str] | None = None, previous: dict | None = None) -> str:
    """RESULTS.md from each benchmark's JSON (None: it failed) and the memory rows;
    ``previous`` (``previous_base.json``) puts the former base's figures under the new ones."""
    label = (previous or {}).get("label", "previous base")

    def earlier(module: str) -> list[dict]:
        return [r for r in (previous or {}).get("rows", []) if r["module"] == module]

    summary: list[dict] = []
    missing = []
    for name, _, _ in BENCHMARKS:
        data = results.get(name)
        if not data or not data.get("rows"):
            missing.append(name)
            summary.append(result_row(name, "", None, None, "", None, "", False,
                                      note="not measured: the benchmark failed"))
            continue
        summary += [{c: row.get(c) for c in COLUMNS}
                    for row in with_previous(data["rows"], earlier(name), label)]
    summary += with_previous(memory, earlier(MEMORY), label)
    judged = [r for r in summary if r["passed"] is not None]
    passed = sum(1 for r in judged if r["passed"])
    lines = [
        "# Benchmark results\n\n",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` in {minutes:.1f} min "
        f"on {cores or os.cpu_count()} shared CPU cores (no GPU). Every figure is set against a "
        "peer measured in the same run on the same machine; `ratio` is ours / theirs unless "
        f"the goal says otherwise. {passed} of {len(judged)} goals met"
        + (f"; not measured: {', '.join(missing)}" if missing else "") + "."
        + (f" This update re-ran only {', '.join(only)}; the other rows (and their dates, in "
           "the details) come from earlier runs." if only else "")
        + (f" Rows marked \"{label}\": {(previous or {}).get('notes', '')} They sit under the "
           "new figure and count toward no goal." if previous else "")
        + "\n\n",
        "## Summary\n\n", markdown_table(summary, list(COLUMNS)),
    ]
    if before_after:
        lines += [f"\n## Profiled stage: before and after\n\n{before_after.get('notes', '')}\n\n",
                  markdown_table(before_after["rows"], list(before_after["rows"][0]))]
    lines.append("\n## Details\n")
    for name, _, covers in [*BENCHMARKS, *((n, [], c) for n, c in EXTRA)]:
        data = results.get(name)
        if not data or not data.get("rows"):
            continue
        rows = with_previous(data["rows"], earlier(name), label)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        notes = " ".join((data.get("notes") or "").split())
        lines.append(f"\n### {name}\n\n{covers}. Measured {data.get('measured_at', '?')}. "
                     f"{notes}\n\n{markdown_table(rows, columns)}")
    return "".join(lines)


def _load(name: str) -> dict | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run these benchmarks; reuse the others' JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    failed, peaks, results = [], {}, {}
    for name, bench_args, _ in BENCHMARKS:
        if args.only and name not in args.only:
            results[name] = _load(name)
            continue
        (OUT / f"{name}.json").unlink(missing_ok=True)  # a failed run must not show old rows
        print(f"bench: {name} ...", flush=True)
        code, seconds, peak = run_one(name, bench_args)
        print(f"bench: {name} {'ok' if code == 0 else 'FAILED'} in {seconds:.0f} s, "
              f"peak {peak:.0f} MiB", flush=True)
        peaks[name] = peak
        if code != 0:
            failed.append(name)
        results[name] = _load(name)
    for name, _ in EXTRA:
        results[name] = _load(name)
    minutes = (time.perf_counter() - started) / 60
    memory = memory_rows(peaks, machine_memory_mib())
    if args.only:  # keep the memory rows of the benchmarks not run this time
        measured = {row["benchmark"] for row in memory}
        memory += [row for row in (_load(MEMORY) or {}).get("rows", [])
                   if row["benchmark"] not in measured]
    (OUT / f"{MEMORY}.json").write_text(json.dumps({"benchmark": MEMORY, "rows": memory},
                                                   indent=2))
    RESULTS.write_text(render(results, memory, minutes, _load(BEFORE_AFTER),
                              len(os.sched_getaffinity(0)), args.only, _load(PREVIOUS)))
    print(f"bench: wrote {RESULTS} in {minutes:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
