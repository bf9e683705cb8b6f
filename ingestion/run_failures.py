"""Failed Dagster runs, kept where `kc status` can show them.

The run-failure sensor writes one row per failed run to ``ops.run_failures`` in the warehouse.
DuckDB admits one writer: when another run holds the warehouse (or there is no warehouse yet),
the row goes to ``$KC_HOME/run_failures.jsonl`` instead. ``recent_failures`` reads both.

The run-failure sensor (`dagster_project.defs.automation.sensors`) and `kc run` record them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ingestion.warehouse import WarehouseLocked, connect

WAREHOUSE_FILE = "warehouse.duckdb"  # settings.config.Settings.warehouse_path
FALLBACK_FILE = "run_failures.jsonl"
MAX_MESSAGE_CHARS = 4000

OPS_SCHEMA_SQL = """
create schema if not exists ops;
create table if not exists ops.run_failures (
    run_id     varchar primary key,
    job_name   varchar not null,
    failed_at  timestamptz not null,
    step_keys  varchar[] not null,   -- the steps that failed; empty when the run failed to start
    message    varchar not null      -- the run's failure message and the first step's error
);
"""

Store = Literal["warehouse", "jsonl"]


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    failed_at: datetime
    step_keys: tuple[str, ...]
    message: str

    def as_row(self) -> list[object]:
        return [self.run_id, self.job_name, self.failed_at, list(self.step_keys),
                self.message[:MAX_MESSAGE_CHARS]]


def record_failure(failure: RunFailure, kc_home: Path) -> tuple[Store, Path]:
    """Write ``failure`` to the warehouse, or to the JSON-lines file when the warehouse is
    locked by another process or does not exist yet. Returns where it went. Recording the same
    run twice keeps the first record."""
    warehouse = kc_home / WAREHOUSE_FILE
    if warehouse.exists():
        try:
            with connect(warehouse) as con:
                con.execute(OPS_SCHEMA_SQL)
                con.execute("insert into ops.run_failures values (?, ?, ?, ?, ?) "
                            "on conflict (run_id) do nothing", failure.as_row())
            return "warehouse", warehouse
        except WarehouseLocked:
            pass
    fallback = kc_home / FALLBACK_FILE
    fallback.parent.mkdir(parents=True, exist_ok=True)
    record = {**asdict(failure), "failed_at": failure.failed_at.astimezone(UTC).isoformat(),
              "step_keys": list(failure.step_keys),
              "message": failure.message[:MAX_MESSAGE_CHARS]}
    with fallback.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    return "jsonl", fallback


def recent_failures(kc_home: Path, limit: int = 10) -> list[dict]:
    """The latest failed runs, newest first, from the warehouse and the fallback file.

    Each dict has run_id, job_name, failed_at (aware UTC datetime), step_keys (list),
    message and recorded_in ("warehouse" or "jsonl"). Raises WarehouseLocked while another
    process writes the warehouse, as every other warehouse read does.
    """
    rows: dict[str, dict] = {}
    for row in _read_jsonl(kc_home / FALLBACK_FILE):
        rows.setdefault(row["run_id"], row)
    for row in _read_warehouse(kc_home / WAREHOUSE_FILE):
        rows[row["run_id"]] = row  # the warehouse row wins over a fallback copy
    newest = sorted(rows.values(), key=lambda r: (r["failed_at"], r["run_id"]), reverse=True)
    return newest[:limit]


def _read_warehouse(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with connect(path, read_only=True) as con:
        exists = con.execute("select count(*) from information_schema.tables "
                             "where table_schema = 'ops' and table_name = 'run_failures'"
                             ).fetchone()[0]
        if not exists:
            return []
        result = con.execute("select run_id, job_name, failed_at, step_keys, message "
                             "from ops.run_failures").fetchall()
    return [{"run_id": run_id, "job_name": job, "failed_at": failed_at.astimezone(UTC),
             "step_keys": list(steps), "message": message, "recorded_in": "warehouse"}
            for run_id, job, failed_at, steps, message in result]


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            rows.append({"run_id": record["run_id"], "job_name": record["job_name"],
                         "failed_at": datetime.fromisoformat(record["failed_at"]).astimezone(UTC),
                         "step_keys": list(record["step_keys"]), "message": record["message"],
                         "recorded_in": "jsonl"})
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a run-failure record ({exc}); "
                             "fix or delete the line") from exc
    return rows
