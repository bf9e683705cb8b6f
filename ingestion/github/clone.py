"""Clone or fetch a GitHub repository with the token, never putting the token in a URL.

The token travels as an ``Authorization`` header set through git's environment configuration
(``GIT_CONFIG_COUNT`` / ``GIT_CONFIG_KEY_n`` / ``GIT_CONFIG_VALUE_n``, git 2.31+): it is not on
the command line (visible in ``ps``), not in the clone's ``config`` (the remote URL stays the
plain ``clone_url``) and not in any message, which names only that URL.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from ingestion.git_reader import GitError

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
            "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


def auth_env(token: str) -> dict[str, str]:
    # GitHub's git endpoint takes the token as the password of HTTP Basic auth.
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


def _run(args: list[str], token: str, what: str, timeout: int) -> None:
    env = {**os.environ, **_GIT_ENV, **auth_env(token)}
    try:
        result = subprocess.run(args, capture_output=True, env=env, check=False,
                                timeout=timeout)
    except FileNotFoundError as exc:
        raise GitError("the `git` executable is not installed; install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"{what}: git took longer than {timeout} s") from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"{what}: {message.replace(token, '***')}")


def clone_or_fetch(clone_url: str, dest: Path, token: str) -> Path:
    """A bare mirror of the repository's branches at ``dest``, brought up to date."""
    if (dest / "HEAD").exists():
        _run(["git", "-C", str(dest), "remote", "set-url", "origin", clone_url], token,
             f"could not update the remote of {dest}", 60)
        _run(["git", "-C", str(dest), "fetch", "--prune", "--quiet", "origin",
              "+refs/heads/*:refs/heads/*"], token, f"could not fetch {clone_url}", 3600)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _run(["git", "clone", "--bare", "--quiet", "--", clone_url, str(dest)], token,
             f"could not clone {clone_url}", 3600)
    return dest
