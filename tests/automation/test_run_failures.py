"""record_run_failures: a failed run becomes a row that `kc status` reads via recent_failures."""

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.defs.automation.sensors import failure_for_run, record_run_failures
from dagster_project.resources import Warehouse
from ingestion.run_failures import (
    FALLBACK_FILE,
    RunFailure,
    recent_failures,
    record_failure,
)
from ingestion.warehouse import WarehouseLocked, connect


@dg.op
def fetch():
    return 1


@dg.op
def explode(value: int):
    raise ValueError(f"teacher unreachable after {value} attempt")


@dg.job
def flaky_job():
    explode(fetch())


def failed_run_context(instance: dg.DagsterInstance, warehouse: Path):
    result = flaky_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return result.run_id, dg.build_run_status_sensor_context(
        sensor_name="record_run_failures", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=result.dagster_run,
        resources={"warehouse": Warehouse(path=str(warehouse))}).for_run_failure()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with connect(home / "warehouse.duckdb"):
        pass  # the warehouse exists, with its raw schema, as after a first `kc run`
    return home


@contextmanager
def writer_holding(path: Path) -> Iterator[None]:
    """Another process with the warehouse open for writing (DuckDB's lock is per process)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_failed_run_is_recorded_in_the_warehouse(home):
    instance = dg.DagsterInstance.ephemeral()
    before = datetime.now(UTC)
    run_id, context = failed_run_context(instance, home / "warehouse.duckdb")
    after = datetime.now(UTC)
    record_run_failures(context)
    with connect(home / "warehouse.duckdb", read_only=True) as con:
        rows = con.execute("select run_id, job_name, step_keys, message, failed_at "
                           "from ops.run_failures").fetchall()
    assert len(rows) == 1
    row_id, job, steps, message, failed_at = rows[0]
    assert (row_id, job, steps) == (run_id, "flaky_job", ["explode"])
    assert message.startswith('Execution of run for "flaky_job" failed. Steps failed: '
                              "['explode'].")
    assert message.endswith("\nexplode: ValueError: teacher unreachable after 1 attempt")
    assert before <= failed_at <= after
    [failure] = recent_failures(home)
    assert failure == {"run_id": run_id, "job_name": "flaky_job", "failed_at": failed_at,
                       "step_keys": ["explode"], "message": message,
                       "recorded_in": "warehouse"}
    assert not (home / FALLBACK_FILE).exists()


def test_kc_run_can_record_an_in_process_failure(home):
    instance = dg.DagsterInstance.ephemeral()
    result = flaky_job.execute_in_process(instance=instance, raise_on_error=False)
    failure = failure_for_run(instance, result.run_id)
    assert (failure.job_name, failure.step_keys) == ("flaky_job", ("explode",))
    assert record_failure(failure, home) == ("warehouse", home / "warehouse.duckdb")
    assert [f["run_id"] for f in recent_failures(home)] == [result.run_id]


def test_recording_twice_keeps_one_row(home):
    instance = dg.DagsterInstance.ephemeral()
    _, context = failed_run_context(instance, home / "warehouse.duckdb")
    record_run_failures(context)
    record_run_failures(context)
    assert len(recent_failures(home)) == 1


def test_locked_warehouse_falls_back_to_jsonl(home, capfd):
    instance = dg.DagsterInstance.ephemeral()
    run_id, context = failed_run_context(instance, home / "warehouse.duckdb")
    with writer_holding(home / "warehouse.duckdb"):
        record_run_failures(context)
        with pytest.raises(WarehouseLocked):
            recent_failures(home)  # as every other warehouse read while a run writes
    assert f"recorded failed run {run_id} in {home / FALLBACK_FILE}" in capfd.readouterr().err
    [line] = (home / FALLBACK_FILE).read_text().splitlines()
    assert json.loads(line)["run_id"] == run_id
    [failure] = recent_failures(home)
    assert (failure["run_id"], failure["recorded_in"], failure["step_keys"]) == (
        run_id, "jsonl", ["explode"])


def test_no_warehouse_yet_falls_back_to_jsonl(tmp_path):
    failure = RunFailure("r1", "refresh_index", datetime(2025, 3, 1, 12, tzinfo=UTC),
                         ("ingest_sources",), "boom")
    assert record_failure(failure, tmp_path) == ("jsonl", tmp_path / FALLBACK_FILE)
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert recent_failures(tmp_path) == [{
        "run_id": "r1", "job_name": "refresh_index",
        "failed_at": datetime(2025, 3, 1, 12, tzinfo=UTC), "step_keys": ["ingest_sources"],
        "message": "boom", "recorded_in": "jsonl"}]


def test_recent_failures_merges_both_stores_newest_first(home):
    start = datetime(2025, 3, 1, tzinfo=UTC)
    for i in range(4):
        failure = RunFailure(f"w{i}", "refresh_index", start + timedelta(hours=2 * i), (), "x")
        assert record_failure(failure, home)[0] == "warehouse"
    (home / FALLBACK_FILE).write_text("".join(
        json.dumps({"run_id": run_id, "job_name": "compile_knowledge",
                    "failed_at": (start + timedelta(hours=h)).isoformat(), "step_keys": [],
                    "message": "y"}) + "\n"
        for run_id, h in [("j1", 1), ("j5", 5), ("w3", 6)]))  # w3: also in the warehouse
    assert [f["run_id"] for f in recent_failures(home, limit=10)] == [
        "w3", "j5", "w2", "w1", "j1", "w0"]
    assert [f["run_id"] for f in recent_failures(home, limit=2)] == ["w3", "j5"]
    assert recent_failures(home)[0]["recorded_in"] == "warehouse"


def test_a_damaged_fallback_line_names_the_file_and_line(tmp_path):
    (tmp_path / FALLBACK_FILE).write_text('{"run_id": "r1"}\n')
    with pytest.raises(ValueError, match=rf"{FALLBACK_FILE}:1: not a run-failure record"):
        recent_failures(tmp_path)


def test_no_failures_anywhere(home):
    assert recent_failures(home) == []


def test_unknown_run_is_an_error():
    with pytest.raises(ValueError, match="no run not-a-run in the Dagster instance"):
        failure_for_run(dg.DagsterInstance.ephemeral(), "not-a-run")
