"""Two `kc run` at once on one project (issue 9.7): the second refuses at once, naming the run
lock and the process that holds it; the first completes; nothing is duplicated or corrupted.

The second run is started once the first has taken the lock (it prints its first line inside
it), so the test does not depend on timing. Slow (~2-4 min on 2 shared cores): a refresh runs
ingestion, dbt and the index in full.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingestion.warehouse import connect, table_counts
from knowledge_compiler.runtime import RUN_LOCK
from tests.automation.conftest import project as tiny_project  # noqa: F401

pytestmark = pytest.mark.slow
KC = Path(sys.executable).parent / "kc"
# What one clean refresh of the `project` fixture writes (tests/automation/conftest.py).
CLEAN_COUNTS = {"sources": 2, "documents": 3, "document_versions": 3, "chunks": 3,
                "git_commits": 1, "git_file_changes": 1, "ingest_failures": 0}


def _state(home: Path) -> dict[str, object]:
    """Row counts, and the raw chunks and index rows, each checked for duplicates."""
    from retrieval.embedder import HashingEmbedder
    from retrieval.index import ChunkIndex

    with connect(home / "warehouse.duckdb", read_only=True) as con:
        counts = table_counts(con)
        chunks = con.execute("select chunk_id, md5(text) from raw.chunks").fetchall()
        for_index = {r[0] for r in con.execute(
            "select chunk_id from marts.chunks_for_index").fetchall()}
    assert len({c for c, _ in chunks}) == len({h for _, h in chunks}) == len(chunks)
    ids = ChunkIndex(home / "lancedb", HashingEmbedder(dim=64)).table.to_arrow()
    ids = ids.column("chunk_id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicated index rows"
    assert set(ids) == for_index
    return {"counts": counts, "chunks": frozenset(chunks), "index": frozenset(ids)}


def test_second_kc_run_refuses_while_the_first_holds_the_run_lock(request, tmp_path):
    project = request.getfixturevalue("tiny_project")  # tests/automation/conftest.py
    env = {**os.environ, "KC_EMBEDDER": "hashing", "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1", "KC_HOME": str(project.home),
           "KC_CONFIG": str(project.config),
           "KC_WAREHOUSE": str(project.home / "warehouse.duckdb")}
    run = [str(KC), "--config", str(project.config), "run", "--refresh-only",
           "--log-level", "WARNING"]
    first_err = tmp_path / "first.err"
    with first_err.open("w") as err_file:
        first = subprocess.Popen(run, env=env, stdout=subprocess.PIPE, stderr=err_file,
                                 text=True)
    out: list[str] = []
    locked = threading.Event()

    def read() -> None:
        for line in first.stdout:
            out.append(line)
            if line.startswith("kc run: 2 sources"):  # printed once the run holds the lock
                locked.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert locked.wait(timeout=300), "".join(out) + first_err.read_text()[-3000:]
        started = time.perf_counter()
        second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
        refused_s = time.perf_counter() - started
        assert first.poll() is None, "the first run ended before the second was refused"
        lock = project.home / RUN_LOCK
        assert second.returncode == 3, second.stderr[-3000:]
        assert second.stderr.strip() == (
            f"kc: another `kc run` (PID {first.pid}) holds the run lock {lock}; wait for it to "
            "finish (one run writes a project at a time) and try again")
        assert "kc run:" not in second.stdout
        assert refused_s < 60  # refused at once, not after the first run's steps
        first.wait(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, first_err.read_text()[-3000:]
    time.sleep(1)  # the reader thread has the last lines
    assert any(line.startswith("kc run: done") for line in out)
    after_race = _state(project.home)
    assert after_race["counts"] == CLEAN_COUNTS
    # the lock died with the first run: a run started now proceeds and changes nothing
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _state(project.home) == after_race
