"""Keep dbt's manifest current, offline, before Dagster loads the dbt assets.

``DbtProject.prepare_if_dev()`` only acts under ``dagster dev``; everywhere else (``kc run``,
CI, tests) the definitions need ``dbt/target/manifest.json`` at import time, so ``kc`` parses
the project first whenever a file under ``dbt/`` is newer than the manifest.
"""

from __future__ import annotations

import os
from pathlib import Path

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
MANIFEST = DBT_DIR / "target" / "manifest.json"
_IGNORED = {"target", "logs", "dbt_packages"}


def _newest_source_mtime(root: Path) -> float:
    newest = 0.0
    for path in root.rglob("*"):
        if path.is_file() and not _IGNORED.intersection(path.relative_to(root).parts):
            newest = max(newest, path.stat().st_mtime)
    return newest


def manifest_is_stale(dbt_dir: Path = DBT_DIR) -> bool:
    manifest = dbt_dir / "target" / "manifest.json"
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(dbt_dir)


def ensure_manifest(dbt_dir: Path = DBT_DIR) -> Path:
    """Run ``dbt parse`` in-process when the manifest is missing or older than the project."""
    manifest = dbt_dir / "target" / "manifest.json"
    if not manifest_is_stale(dbt_dir):
        return manifest
    from dbt.cli.main import dbtRunner

    # Parsing renders profiles.yml, which needs the variable but never opens the file.
    os.environ.setdefault("KC_WAREHOUSE", str(dbt_dir / "target" / "parse-only.duckdb"))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    result = dbtRunner().invoke(["parse", "--project-dir", str(dbt_dir), "--profiles-dir",
                                 str(dbt_dir), "--quiet"])
    if not result.success:
        raise RuntimeError(f"dbt parse failed for {dbt_dir}: {result.exception}")
    return manifest
