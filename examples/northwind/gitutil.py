"""Deterministic git history: ``git fast-import`` of fixed commits and single-file commits.

A commit's SHA depends only on its tree, parents, author/committer lines and message, so by
fixing names, emails and timestamps (derived from ``as_of``) two builds produce the same SHAs.
The history writer itself is the library's (`evaluation.privacy.corpus_writers`); it is
re-exported here for the sample's builders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from evaluation.privacy.corpus_writers import (
    Commit,
    fast_import_stream,
    git,
    git_env,
    import_history,
    init_repo,
)

__all__ = ["Commit", "commit_file", "fast_import_stream", "git", "git_env", "head_sha",
           "import_history", "init_repo"]


def head_sha(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def commit_file(
    repo: Path, path: str, content: str, message: str, *, author: tuple[str, str], when: datetime
) -> str:
    """Write one file and commit it with fixed identity and dates; return the new SHA."""
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    env = git_env(
        {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
    )
    git(repo, "add", "--", path, env=env)
    git(repo, "commit", "-q", "--no-verify", "-m", message, env=env)
    return head_sha(repo)
