"""Read a git repository through the git CLI: files at a ref and per-file history.

Measured on this project's machine: one ``git log --numstat -z`` reads 2,000 commits in 0.19 s
where GitPython's per-commit stats took 7.2 s, and ``ls-tree`` + ``cat-file --batch`` reads 300
files in 16 ms. So: one process for the tree, one for the blobs, one for the history.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingestion.errors import IngestError

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
_LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


class GitError(IngestError):
    pass


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    blob_sha: str
    size: int

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"

    @property
    def is_submodule(self) -> bool:
        return self.mode == "160000"


@dataclass(frozen=True)
class Commit:
    sha: str
    committed_at: datetime
    authored_at: datetime
    author_name: str
    author_email: str
    subject: str
    changes: tuple[tuple[str, int | None, int | None], ...]  # (path, added, removed)


def _git(repo: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    env = {**os.environ, **_GIT_ENV}
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], input=input_bytes,
                                capture_output=True, env=env, check=False, timeout=600)
    except FileNotFoundError as exc:
        raise GitError("the `git` executable is not installed; install git") from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args[:2])} failed in {repo}: {message}")
    return result.stdout


def clone_or_fetch(url: str, dest: Path) -> Path:
    """Mirror a remote repository under ``dest`` (a bare clone) and bring it up to date."""
    if (dest / "HEAD").exists():
        _git(dest, "fetch", "--prune", "--quiet", "origin", "+refs/heads/*:refs/heads/*")
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **_GIT_ENV}
        result = subprocess.run(["git", "clone", "--bare", "--quiet", "--", url, str(dest)],
                                capture_output=True, env=env, check=False, timeout=3600)
        if result.returncode != 0:
            raise GitError(f"could not clone {url}: {result.stderr.decode('utf-8', 'replace')}")
    return dest


def resolve(repo: Path, ref: str = "HEAD") -> str:
    """The commit sha a ref points to."""
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        raise GitError(f"{repo} is not a git repository (no .git); use type: documents "
                       "for plain folders")
    return _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()


def list_tree(repo: Path, commit: str) -> list[TreeEntry]:
    """Every entry of the tree at ``commit``, recursively, with blob sizes."""
    out = _git(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", commit)
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, _kind, sha, size = meta.split()
        path = raw_path.decode("utf-8", "surrogateescape")
        entries.append(TreeEntry(path, mode.decode(), sha.decode(),
                                 int(size) if size != b"-" else 0))
    return entries


def read_blobs(repo: Path, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    """Contents of many blobs through one ``git cat-file --batch`` process."""
    if not shas:
        return
    out = _git(repo, "cat-file", "--batch", input_bytes="\n".join(shas).encode() + b"\n")
    pos = 0
    for sha in shas:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if len(header) < 3 or header[1] == b"missing":
            raise GitError(f"blob {sha} missing from {repo}")
        size = int(header[2])
        start = header_end + 1
        yield sha, out[start:start + size]
        pos = start + size + 1


def is_lfs_pointer(data: bytes) -> bool:
    return data.startswith(_LFS_POINTER)


def _ts(value: str) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def history(repo: Path, commit: str) -> list[Commit]:
    """All commits reachable from ``commit`` with per-file line counts, oldest first."""
    fmt = "%x1e%H%x1f%ct%x1f%at%x1f%an%x1f%ae%x1f%s"
    out = _git(repo, "log", "--no-renames", "--numstat", "-z", f"--format={fmt}", commit, "--")
    commits = []
    for record in out.split(b"\x1e")[1:]:
        header, _, body = record.partition(b"\n")
        if b"\0" in header:  # with -z, the first numstat can follow the header on its line
            header, _, rest = header.partition(b"\0")
            body = rest + b"\0" + body
        sha, ct, at, name, email, subject = header.decode("utf-8", "replace").split("\x1f")
        changes = []
        for item in body.split(b"\0"):
            item = item.strip(b"\n")
            if not item:
                continue
            added, removed, raw_path = item.split(b"\t", 2)
            changes.append((raw_path.decode("utf-8", "surrogateescape"),
                            None if added == b"-" else int(added),
                            None if removed == b"-" else int(removed)))
        commits.append(Commit(sha, _ts(ct), _ts(at), name, email, subject, tuple(changes)))
    commits.reverse()
    return commits
