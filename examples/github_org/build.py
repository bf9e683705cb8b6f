"""Bare repositories of the stand-in's organisation, built deterministically with fast-import.

``build_repositories(dest, repos)`` writes ``dest/<owner>/<name>.git`` for each repository
(existing ones are rebuilt), served by ``server.GitHubStandIn`` over smart HTTP.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from examples.github_org.fixtures import OWNER, RepoFixture
from examples.northwind.gitutil import fast_import_stream, git, git_env


def build_repositories(dest: Path, repos: list[RepoFixture]) -> list[Path]:
    out = []
    for repo in repos:
        path = dest / OWNER / f"{repo.name}.git"
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", "--bare",
                        str(path)], check=True, env=git_env())
        git(path, "fast-import", "--quiet", "--date-format=raw",
            data=fast_import_stream(repo.commits))
        out.append(path)
    return out
