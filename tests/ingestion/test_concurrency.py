"""DuckDB admits one writer: a second run gets a clear message, not a corrupt warehouse."""

import subprocess
import sys
import time

import pytest

from ingestion.warehouse import WarehouseLocked, connect, table_counts


def test_second_writer_is_refused_with_a_clear_message(tmp_path):
    db = tmp_path / "wh.duckdb"
    with connect(db):
        pass  # create the schema
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
        " time.sleep(60)"), str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        with pytest.raises(WarehouseLocked) as info, connect(db):
            pass
        assert time.perf_counter() - started < 10  # refuses promptly, no hang
        message = str(info.value)
        assert str(db) in message and f"PID {holder.pid}" in message
        assert "one writer at a time" in message
    finally:
        holder.kill()
        holder.wait()
    with connect(db, read_only=True) as con:  # intact afterwards
        assert table_counts(con)["documents"] == 0
