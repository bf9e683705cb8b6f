"""Process-level setup shared by `kc` commands: environment, Dagster instance, definitions."""

from __future__ import annotations

import os
from pathlib import Path

from knowledge_compiler.offline import apply_offline_defaults
from knowledge_compiler.settings import Settings, load_settings

_DAGSTER_YAML = """\
# Written by kc. Local instance of Knowledge Compiler.
telemetry:
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
    settings = load_settings(config)
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
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from knowledge_compiler.dbt_manifest import ensure_manifest

    ensure_manifest()  # the dbt assets need the manifest when the definitions load
    return settings
