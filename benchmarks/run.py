"""`make bench`: run every benchmark side by side and write benchmarks/RESULTS.md (+ JSON).

Each benchmark is its own process (clean memory and thread settings) and writes
``benchmarks/out/<name>.json``; this collects them into one table per benchmark.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import OUT, markdown_table

BENCHMARKS = [
    ("ingestion_vs_parser", []),
    ("embedding_throughput", []),
    ("index_search", ["--quick"]),
    ("incremental_refresh", []),
]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def main() -> int:
    started = time.perf_counter()
    failed = []
    for name, args in BENCHMARKS:
        print(f"bench: {name} ...", flush=True)
        step = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args], check=False)
        print(f"bench: {name} {'ok' if result.returncode == 0 else 'FAILED'} in "
              f"{time.perf_counter() - step:.0f} s", flush=True)
        if result.returncode != 0:
            failed.append(name)
    lines = [f"# Benchmark results\n\nMeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
             f"`make bench` in {(time.perf_counter() - started) / 60:.1f} min; every figure is "
             "a ratio against a peer measured in the same run.\n"]
    for name, _ in BENCHMARKS:
        path = OUT / f"{name}.json"
        if not path.exists():
            lines.append(f"\n## {name}\n\nnot measured (the benchmark failed)\n")
            continue
        data = json.loads(path.read_text())
        rows = data.get("rows") or []
        columns = list(dict.fromkeys(k for row in rows for k in row))
        lines.append(f"\n## {name}\n\n{markdown_table(rows, columns) if rows else 'no rows'}\n")
    RESULTS.write_text("".join(lines))
    print(f"bench: wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
