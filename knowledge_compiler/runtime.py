"""Process-level setup shared by `kc` commands: environment, Dagster instance, definitions."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from settings.config import Settings, load_settings
from settings.offline import apply_offline_defaults
from training.config import check as check_training_sections

_DAGSTER_YAML = """\
# Written by kc. Local instance of Knowledge Compiler.
telemetry:
  enabled: false
# The UI's first-visit pop-up (the community/newsletter "nux" dialog) stays closed.
nux:
  enabled: false
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
"""


def prepare(config: str | Path) -> Settings:
    """Load kc.yaml and export what Dagster resources and dbt read (KC_CONFIG, KC_WAREHOUSE,
    DAGSTER_HOME). Call before importing dagster_project."""
    apply_offline_defaults()
    settings = check_training_sections(load_settings(config))
    home = settings.kc_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["KC_HOME"] = str(home)
    os.environ["KC_CONFIG"] = str(settings.config_path)
    os.environ["KC_WAREHOUSE"] = str(settings.warehouse_path)
    os.environ.setdefault("KC_EMBEDDER", "sentence-transformers")
    dagster_home = settings.dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    yaml_path = dagster_home / "dagster.yaml"
    if not yaml_path.exists():
        from dagster_project.defs.automation.jobs import WAREHOUSE_CONCURRENCY_YAML

        yaml_path.write_text(_DAGSTER_YAML + WAREHOUSE_CONCURRENCY_YAML)
    elif "\nnux:" not in "\n" + yaml_path.read_text():  # written before the setting existed
        with yaml_path.open("a") as out:
            out.write("nux:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from settings.dbt_manifest import ensure_manifest

    ensure_manifest()  # the dbt assets need the manifest when the definitions load
    return settings


RUN_LOCK = "kc-run.lock"


class RunLocked(RuntimeError):
    """Another `kc run` is running on the same project."""


@contextmanager
def run_lock(home: Path) -> Iterator[Path]:
    """Hold `<home>/kc-run.lock` for a whole `kc run`, or refuse at once.

    DuckDB's lock covers one connection, not a run: a second run would take the warehouse
    between the first one's steps (its ingestion retried silently for minutes, and a step of
    the first could then find the warehouse locked). An OS lock (flock) dies with its process,
    so a killed run leaves none behind.
    """
    path = home / RUN_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            who = f" (PID {holder})" if holder.isdigit() else ""
            raise RunLocked(f"another `kc run`{who} holds the run lock {path}; wait for it to "
                            "finish (one run writes a project at a time) and try again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)
