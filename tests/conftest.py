"""Shared fixtures. Every test runs with the stack's telemetry off, as the entry points do."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from settings.offline import apply_offline_defaults

apply_offline_defaults()

# The dbt assets read dbt/target/manifest.json when dagster_project.definitions is imported
# (some test modules do so at collection): parse the project first on a fresh clone.
from settings.dbt_manifest import ensure_manifest  # noqa: E402

ensure_manifest()

# The answering fixtures (a tiny model, its adapter, a hashing index) serve the answering,
# evaluation and serving tests alike.
pytest_plugins = ("tests.answering.fixtures",)

REPO_ROOT = Path(__file__).resolve().parents[1]
OFFLINE_TOOL = REPO_ROOT.parent / "shared" / "tools" / "offline"


@pytest.fixture(scope="session")
def parser_worker() -> Iterator[object]:
    """One parsing process for the whole session: starting one costs seconds."""
    from ingestion.parsing import ParserWorker

    with ParserWorker(timeout_s=30, memory_mb=2048) as worker:
        yield worker


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test Author",
           "GIT_AUTHOR_EMAIL": "author@corp.example",
           "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@corp.example",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo)}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    out = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                          *args], cwd=repo, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    """A git repository with dated history: a weekly changelog and a never-changed module."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "core.py").write_text('"""Core module: computes invoice totals."""\n\n\n'
                                  'def total(items):\n    """Sum of item prices in cents."""\n'
                                  '    return sum(items)\n')
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## Week 0\n\nInitial release.\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "initial", date="2025-01-06T10:00:00+00:00")
    for week in range(1, 5):
        with (repo / "CHANGELOG.md").open("a") as f:
            f.write(f"\n## Week {week}\n\nShipped feature number {week}.\n")
        when = datetime(2025, 1, 6, 10, tzinfo=UTC) + timedelta(weeks=week)
        git(repo, "commit", "-qam", f"week {week}", date=when.isoformat())
    return repo
