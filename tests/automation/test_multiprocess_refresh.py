"""The refresh job on Dagster's multiprocess executor: each step in its own process, the
warehouse written by one step at a time (dependencies order them), the index built."""

import dagster as dg
import pytest

from dagster_project.definitions import defs
from ingestion.warehouse import connect
from settings.dbt_manifest import ensure_manifest


def refresh_job() -> dg.JobDefinition:
    """Module level, so `dg.reconstructable` can load it in each step's process."""
    return defs.get_job_def("refresh_index")


@pytest.mark.slow  # ~1-2 min on 2 cores: every step process imports the whole stack
def test_refresh_job_on_the_multiprocess_executor(project, monkeypatch, tmp_path):
    warehouse = project.home / "warehouse.duckdb"
    monkeypatch.setenv("KC_CONFIG", str(project.config))
    monkeypatch.setenv("KC_HOME", str(project.home))
    monkeypatch.setenv("KC_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("KC_EMBEDDER", "hashing")
    ensure_manifest()
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        result = dg.execute_job(dg.reconstructable(refresh_job), instance=instance)
        assert result.success
        starts = [e for e in result.all_events if e.is_step_start]
        assert len(starts) >= 3 and len({e.pid for e in starts}) == len(starts)
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from raw.documents").fetchone()[0] == 3
        assert con.execute("select count(*) from marts.chunks_for_index").fetchone()[0] > 0
    assert (project.home / "lancedb").is_dir()
