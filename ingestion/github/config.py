"""Typed settings of a ``github`` source (built from kc.yaml by ``settings.config``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GITHUB_API = "https://api.github.com"


@dataclass(frozen=True)
class GitHubAccess:
    """How a repository's visibility and teams map onto kc groups.

    ``public`` / ``internal``: groups for repositories of that visibility (None: the source's
    ``acl_groups`` for public ones; internal ones are treated like private ones). A private
    repository gets ``private`` plus the groups of every mapped team that can read it; when
    that is empty it is not ingested at all (fail closed).
    """

    public: tuple[str, ...] | None = None
    internal: tuple[str, ...] | None = None
    private: tuple[str, ...] = ()
    teams: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (team slug, groups)

    @property
    def team_groups(self) -> dict[str, tuple[str, ...]]:
        return dict(self.teams)

    def all_groups(self) -> set[str]:
        out = set(self.public or ()) | set(self.internal or ()) | set(self.private)
        for _, groups in self.teams:
            out |= set(groups)
        return out


@dataclass(frozen=True)
class GitHubSpec:
    """Where the repositories are and what to read from them."""

    owner: str
    owner_type: Literal["org", "user"] = "org"
    repos: tuple[str, ...] = ("*",)  # globs on the repository name
    exclude_repos: tuple[str, ...] = ()
    api_url: str = GITHUB_API  # GitHub Enterprise Server: https://HOST/api/v3
    token_env: str = "GITHUB_TOKEN"  # the NAME of the environment variable holding the token
    issues: bool = True
    pulls: bool = True
    include_forks: bool = False
    include_archived: bool = True
    access: GitHubAccess | None = None
    per_page: int = field(default=100)
    timeout_s: float = 30.0
    max_retries: int = 5
    max_wait_s: float = 900.0  # longest single wait for a rate limit before giving up

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("https://", "http://")):
            raise ValueError(f"github.api_url {self.api_url!r}: expected an http(s) URL")
        if not 1 <= self.per_page <= 100:
            raise ValueError("github.per_page must be between 1 and 100")


def github_spec(settings) -> GitHubSpec:  # settings: settings.config.GitHubSettings
    """The dataclass from kc.yaml's validated ``github:`` block."""
    access = None
    if settings.access is not None:
        a = settings.access
        access = GitHubAccess(
            public=tuple(a.public) if a.public is not None else None,
            internal=tuple(a.internal) if a.internal is not None else None,
            private=tuple(a.private),
            teams=tuple(sorted((slug, tuple(groups)) for slug, groups in a.teams.items())))
    return GitHubSpec(owner=settings.owner, owner_type=settings.owner_type,
                      repos=tuple(settings.repos), exclude_repos=tuple(settings.exclude_repos),
                      api_url=settings.api_url.rstrip("/"), token_env=settings.token_env,
                      issues=settings.issues, pulls=settings.pulls,
                      include_forks=settings.include_forks,
                      include_archived=settings.include_archived, access=access,
                      per_page=settings.per_page, timeout_s=settings.timeout_s,
                      max_retries=settings.max_retries)
