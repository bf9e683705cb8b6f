"""A tiny project for the automation tests: one documents folder, one local git repository."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git


@dataclass
class Project:
    config: Path
    home: Path
    docs: Path
    repo: Path


def write_config(path: Path, home: Path, sources: list[str]) -> Path:
    path.write_text(f"home: {home}\nsources:\n" + "".join(f"  - {s}\n" for s in sources))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    docs = tmp_path / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "handbook.md").write_text("# Handbook\n\nLaptops on day one.\n")
    (docs / "policies" / "travel.md").write_text("# Travel\n\nBook trains.\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "core.py").write_text("def total(items):\n    return sum(items)\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "initial")
    home = tmp_path / "home"
    config = write_config(tmp_path / "kc.yaml", home, [
        f"{{name: docs, type: documents, path: {docs}, tenant: eng, acl_groups: [eng]}}",
        f"{{name: repo, type: git, path: {repo}, tenant: eng, acl_groups: [eng]}}",
    ])
    return Project(config=config, home=home, docs=docs, repo=repo)
