"""Deterministic git history via ``git fast-import``.

A commit's SHA depends only on its tree, parents, author/committer lines and message, so by
fixing names, emails and timestamps (derived from ``as_of``) two builds produce the same SHAs.
The user's global/system git config is ignored so that hooks, signing or templates cannot
change the result.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

EXECUTABLE_SUFFIXES = (".sh",)


@dataclass(frozen=True)
class Commit:
    when: datetime
    author: tuple[str, str]  # (name, email)
    message: str
    changes: dict[str, str | None] = field(default_factory=dict)  # None deletes the path


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Drop inherited GIT_* variables (e.g. GIT_DIR when run from a hook) so they cannot
    # redirect commands to another repository.
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        {
            "TZ": "UTC",
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    env.update(extra or {})
    return env


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None
) -> str:
    base = ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", "-C", str(repo)]
    result = subprocess.run(
        [*base, *args], input=data, capture_output=True, check=False, env=env or git_env()
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode()


def init_repo(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "init", "-q", str(path)],
        check=True,
        env=git_env(),
    )


def _stamp(when: datetime) -> str:
    return f"{int(when.astimezone(UTC).timestamp())} +0000"


def _data(payload: bytes) -> bytes:
    return b"data " + str(len(payload)).encode() + b"\n" + payload + b"\n"


def fast_import_stream(commits: list[Commit], branch: str = "refs/heads/main") -> bytes:
    out = bytearray()
    for mark, commit in enumerate(commits, start=1):
        name, email = commit.author
        ident = f"{name} <{email}> {_stamp(commit.when)}"
        out += f"commit {branch}\nmark :{mark}\nauthor {ident}\ncommitter {ident}\n".encode()
        out += _data(commit.message.rstrip("\n").encode() + b"\n")
        if mark > 1:
            out += f"from :{mark - 1}\n".encode()
        for path in sorted(commit.changes):
            content = commit.changes[path]
            if content is None:
                out += f"D {path}\n".encode()
            else:
                mode = "100755" if path.endswith(EXECUTABLE_SUFFIXES) else "100644"
                out += f"M {mode} inline {path}\n".encode() + _data(content.encode())
        out += b"\n"
    return bytes(out)


def import_history(repo: Path, commits: list[Commit]) -> None:
    """Create ``repo`` with ``commits`` on main and check the working tree out at HEAD."""
    init_repo(repo)
    git(repo, "fast-import", "--quiet", "--date-format=raw", data=fast_import_stream(commits))
    git(repo, "reset", "--hard", "-q", "main")


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
