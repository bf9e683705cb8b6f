"""Listing the files of a source: a documents folder (walked) or a git tree (at a commit).

Both produce ``Candidate`` files with bytes and a modification time, or ``Rejected`` entries
that become ingest failures. Nothing here parses.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingestion import git_reader
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.formats import detect_format
from ingestion.globs import selected

# Deeper folders are not walked: nothing real nests this far, and a path that long breaks
# tools downstream (PATH_MAX is 4096 bytes; 500 levels of long names exceed it).
MAX_FOLDER_DEPTH = 64


@dataclass
class Candidate:
    path: str  # POSIX, relative to the source root; non-UTF-8 bytes backslash-escaped
    fmt: str
    modified_at: datetime
    read: object  # () -> bytes; deferred so unchanged files can be skipped cheaply
    size: int


@dataclass
class Rejected:
    path: str
    reason: str
    exception_class: str


@dataclass
class Listing:
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped: int = 0  # unknown formats, excluded paths, symlinks inside the root
    head_commit: str | None = None
    commits: list[git_reader.Commit] = field(default_factory=list)


def display_path(raw: bytes) -> str:
    """A storable, readable path: invalid UTF-8 bytes become \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


def _read_file(full: bytes, limit: int) -> bytes:
    fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    finally:
        os.close(fd)


def _symlink_problem(full: bytes, root_real: bytes) -> str | None:
    """Why a symlink must not be followed, or None when it stays inside the root."""
    try:
        os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return f"dangling symlink ({exc.strerror})"
    target = os.path.realpath(full)
    if target != root_real and not target.startswith(root_real + b"/"):
        return "symlink points outside the source root"
    return None


def list_folder(spec: SourceSpec, cfg: IngestionConfig) -> Listing:
    """Walk a documents folder without following symlinks (iteratively: depth is unbounded)."""
    assert spec.path is not None
    root = os.fsencode(spec.path)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"source {spec.name!r}: folder {spec.path} does not exist")
    root_real = os.path.realpath(root)
    excludes = (*cfg.default_excludes, *spec.exclude)
    listing = Listing()
    stack = [b""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(root, rel_dir)), key=lambda e: e.name)
        except OSError as exc:
            listing.rejected.append(Rejected(display_path(rel_dir) or ".",
                                             f"cannot list folder: {exc.strerror}",
                                             type(exc).__name__))
            continue
        for entry in entries:
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            path = display_path(rel)
            full = os.path.join(root, rel)
            if entry.is_symlink():
                problem = _symlink_problem(full, root_real)
                if problem:
                    listing.rejected.append(Rejected(path, problem, "UnsafePath"))
                else:
                    listing.skipped += 1  # its target inside the root is read on its own
                continue
            if entry.is_dir(follow_symlinks=False):
                if not selected(path + "/", ("**",), excludes):
                    listing.skipped += 1
                elif rel.count(b"/") + 1 > MAX_FOLDER_DEPTH:
                    listing.rejected.append(Rejected(
                        path, f"folder nested deeper than {MAX_FOLDER_DEPTH} levels: not walked",
                        "UnsafePath"))
                else:
                    stack.append(rel)
                continue
            if not selected(path, spec.include, excludes):
                listing.skipped += 1
                continue
            fmt = detect_format(path)
            if fmt is None:
                listing.skipped += 1
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                listing.rejected.append(Rejected(path, f"cannot stat: {exc.strerror}",
                                                 type(exc).__name__))
                continue
            if not stat.S_ISREG(st.st_mode):
                listing.rejected.append(Rejected(path, "not a regular file", "UnsafePath"))
                continue
            limit = cfg.max_file_bytes
            listing.candidates.append(Candidate(
                path, fmt, datetime.fromtimestamp(st.st_mtime, tz=UTC),
                (lambda full=full, limit=limit: _read_file(full, limit)), st.st_size))
    return listing


def list_git(spec: SourceSpec, cfg: IngestionConfig, home: Path) -> Listing:
    """Text files at the source's ref and the whole history behind it."""
    if spec.url:
        repo = git_reader.clone_or_fetch(spec.url, home / "repos" / f"{spec.name}.git")
    else:
        assert spec.path is not None
        repo = spec.path
        if not repo.exists():
            raise FileNotFoundError(f"source {spec.name!r}: repository {repo} does not exist")
    head = git_reader.resolve(repo, spec.ref)
    listing = Listing(head_commit=head, commits=git_reader.history(repo, head))
    last_change: dict[str, datetime] = {}
    for commit in listing.commits:  # oldest first: the last write wins
        for path, _, _ in commit.changes:
            last_change[path] = commit.committed_at
    excludes = (*cfg.default_excludes, *spec.exclude)
    wanted = []
    for entry in git_reader.list_tree(repo, head):
        path = display_path(os.fsencode(entry.path))
        if entry.is_symlink or entry.is_submodule:
            listing.skipped += 1  # a link's target, if inside the repository, is read itself
            continue
        fmt = detect_format(path)
        if fmt is None or not selected(path, spec.include, excludes):
            listing.skipped += 1
            continue
        if entry.size > cfg.max_file_bytes:
            listing.rejected.append(Rejected(
                path, f"file is {entry.size / 2**20:.1f} MiB, over max_file_mb "
                      f"{cfg.max_file_mb:g}", "FileTooLarge"))
            continue
        wanted.append((entry, path, fmt))
    blobs = dict(git_reader.read_blobs(repo, [e.blob_sha for e, _, _ in wanted]))
    for entry, path, fmt in wanted:
        data = blobs[entry.blob_sha]
        if git_reader.is_lfs_pointer(data):
            listing.skipped += 1
            continue
        modified = last_change.get(entry.path, listing.commits[-1].committed_at)
        listing.candidates.append(Candidate(path, fmt, modified, (lambda d=data: d), entry.size))
    return listing
