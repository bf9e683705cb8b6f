"""Cheap fingerprints of sources, to tell whether one changed since the last look.

Nothing is read or parsed. A git source's fingerprint is the commit its ref points to
(``git rev-parse`` for a local repository; ``git ls-remote`` for a URL, which goes over the
network and is therefore opt-in). A documents folder's fingerprint is a hash over
(relative path, size, mtime_ns) of every file ingestion would consider, walked with
``os.scandir`` without following symlinks and bounded by a file count.

The source-change sensor (`dagster_project.defs.automation.sensors`) calls these and keeps the
results in its cursor.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingestion import git_reader
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.formats import detect_format
from ingestion.globs import selected
from ingestion.sources import display_path

DEFAULT_MAX_FILES = 100_000
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


@dataclass(frozen=True)
class Fingerprint:
    """What a source looks like now. ``value`` is None when it could not be taken (``note``
    says why); the caller then keeps the previous value instead of reporting a change."""

    source: str
    value: str | None
    note: str = ""


@dataclass(frozen=True)
class FolderDigest:
    digest: str
    files: int
    truncated: bool


def folder_digest(root: Path, include: Iterable[str] = ("**/*",), exclude: Iterable[str] = (),
                  max_files: int = DEFAULT_MAX_FILES) -> FolderDigest:
    """Hash (path, size, mtime_ns) of the files ingestion would read under ``root``.

    Walks in sorted order without following symlinks (a symlink contributes its target string,
    not the target's contents); excluded folders are not entered. Stops after ``max_files``
    files and says so (``truncated``): changes past that point go unseen until the schedule.
    """
    top = os.fsencode(root)
    if not os.path.isdir(top):
        raise FileNotFoundError(f"folder {root} does not exist")
    include, exclude = tuple(include), tuple(exclude)
    digest = hashlib.sha256()
    files = 0
    stack = [b""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(top, rel_dir)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:  # an unreadable folder is part of the state: it may come back
            digest.update(b"E\0" + rel_dir + b"\0" + str(exc.errno).encode() + b"\n")
            continue
        subdirs = []
        for entry in entries:
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            path = display_path(rel)
            if entry.is_symlink():
                target = os.fsencode(os.readlink(os.path.join(top, rel)))
                digest.update(b"L\0" + rel + b"\0" + target + b"\n")
            elif entry.is_dir(follow_symlinks=False):
                if selected(path + "/", ("**",), exclude):
                    subdirs.append(rel)
            elif entry.is_file(follow_symlinks=False):
                if not selected(path, include, exclude) or detect_format(path) is None:
                    continue
                if files >= max_files:
                    return FolderDigest(digest.hexdigest(), files, truncated=True)
                st = entry.stat(follow_symlinks=False)
                digest.update(b"F\0" + rel + b"\0" + f"{st.st_size}:{st.st_mtime_ns}".encode()
                              + b"\n")
                files += 1
        stack.extend(reversed(subdirs))  # depth-first, in name order
    return FolderDigest(digest.hexdigest(), files, truncated=False)


def remote_head(url: str, ref: str = "HEAD", timeout_s: float = 20.0) -> str:
    """The commit ``ref`` points to in the remote repository (``git ls-remote``: network)."""
    if _SHA.match(ref):
        return ref  # pinned to a commit: it cannot move
    try:
        result = subprocess.run(["git", "ls-remote", "--", url, ref], capture_output=True,
                                env={**os.environ, **_GIT_ENV}, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise git_reader.GitError(f"git ls-remote {url} timed out after {timeout_s:.0f} s") from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise git_reader.GitError(f"git ls-remote {url} failed: {message}")
    lines = result.stdout.decode().split("\n")
    for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"):
        for line in lines:
            sha, _, name = line.partition("\t")
            if name == candidate:
                return sha
    raise git_reader.GitError(f"{url} has no ref {ref!r}")


def source_fingerprint(spec: SourceSpec, cfg: IngestionConfig, *, remote_git: bool = False,
                       max_files: int = DEFAULT_MAX_FILES,
                       git_timeout_s: float = 20.0) -> Fingerprint:
    """The fingerprint of one source; problems become a None value with a note, never a
    change (a folder unmounted for a minute must not trigger a refresh that deletes it)."""
    try:
        if spec.type == "documents":
            assert spec.path is not None
            found = folder_digest(spec.path, spec.include,
                                  (*cfg.default_excludes, *spec.exclude), max_files)
            note = (f"stopped after {found.files} files (max_files): later changes go unseen"
                    if found.truncated else "")
            return Fingerprint(spec.name, f"tree:{found.digest}", note)
        if spec.path is not None:
            return Fingerprint(spec.name, f"git:{git_reader.resolve(spec.path, spec.ref)}")
        assert spec.url is not None
        if not remote_git:
            return Fingerprint(spec.name, None, f"remote git source {spec.url} not checked: "
                               "`git ls-remote` uses the network (enable remote_git)")
        return Fingerprint(spec.name, f"git:{remote_head(spec.url, spec.ref, git_timeout_s)}")
    except (OSError, git_reader.GitError) as exc:
        return Fingerprint(spec.name, None, f"cannot fingerprint: {exc}")


def changed_sources(previous: dict[str, str], current: list[Fingerprint]
                    ) -> tuple[dict[str, str], list[str]]:
    """The next cursor, and the names of sources added, changed or removed since ``previous``.
    A source without a fingerprint now keeps its previous one."""
    cursor: dict[str, str] = {}
    changed = []
    for fp in current:
        if fp.value is None:
            if fp.source in previous:
                cursor[fp.source] = previous[fp.source]
            continue
        cursor[fp.source] = fp.value
        if previous.get(fp.source) != fp.value:
            changed.append(fp.source)
    removed = sorted(set(previous) - {fp.source for fp in current})
    return cursor, sorted(changed) + removed


def fingerprints_key(cursor: dict[str, str]) -> str:
    """A stable hash of a set of fingerprints (the run key of the refresh it triggers)."""
    text = "\n".join(f"{name}\0{value}" for name, value in sorted(cursor.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
