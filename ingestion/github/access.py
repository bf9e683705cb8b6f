"""Which kc groups may read a repository: its visibility and teams through kc.yaml's mapping.

The rule that matters: a private repository is never given to a group that could not read it
on GitHub. Without a mapping every repository gets the source's ``acl_groups`` (the source's
owner vouches for them, as for any other source). With one, a private (or internal)
repository gets the groups of the mapped teams that can read it plus ``private``; if the
token cannot list its teams, only ``private``; if that leaves nobody, the repository is not
ingested (``NoReadableGroup``).
"""

from __future__ import annotations

from ingestion.github.config import GitHubAccess
from ingestion.github.errors import GitHubError


class NoReadableGroup(GitHubError):
    """No kc group may read this repository: it is left out (fail closed)."""


def repo_groups(acl_groups: tuple[str, ...], access: GitHubAccess | None, visibility: str,
                teams: list[str] | None, full_name: str) -> tuple[str, ...]:
    """Groups for one repository, in the order of the source's ``acl_groups``."""
    if access is None:
        return acl_groups
    if visibility == "public":
        granted = set(access.public if access.public is not None else acl_groups)
    elif visibility == "internal" and access.internal is not None:
        granted = set(access.internal)
    else:
        granted = set(access.private)
        mapping = access.team_groups
        for slug in teams or ():
            granted |= set(mapping.get(slug, ()))
    granted &= set(acl_groups)  # the source's acl_groups are the most it may grant
    if not granted:
        known = "its teams could not be read" if teams is None else (
            f"its teams ({', '.join(teams) or 'none'}) map to no group")
        raise NoReadableGroup(
            f"{full_name} is {visibility} and {known}: no kc group may read it, so it is not "
            "ingested; map one of its teams under github.access.teams (or list groups under "
            "github.access.private)")
    return tuple(g for g in acl_groups if g in granted)
