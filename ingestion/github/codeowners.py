"""CODEOWNERS: who owns each path of a repository (GitHub's rules).

GitHub reads the first of ``.github/CODEOWNERS``, ``CODEOWNERS``, ``docs/CODEOWNERS``. Each line
is a pattern and its owners; the *last* matching line wins, and a pattern with no owners
leaves the path unowned. Patterns follow .gitignore syntax with GitHub's reading of it: a
pattern with a leading or inner ``/`` is anchored to the root, otherwise it matches at any
depth; a pattern naming a directory owns everything under it, but ``docs/*`` owns only the
files directly in ``docs`` (docs.github.com, "About code owners").
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.globs import matches
from ingestion.ids import email_hash

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]
    globs: tuple[str, ...]


def _globs(pattern: str) -> tuple[str, ...]:
    directory_only = pattern.endswith("/")
    body = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in body
    base = body if anchored else f"**/{body}"
    if directory_only:
        return (f"{base}/**",)
    if "*" in body.rsplit("/", 1)[-1]:  # `docs/*`, `*.js`: the files it names, not deeper
        return (base,)
    return (base, f"{base}/**")


def _owner(token: str) -> str:
    # An e-mail owner is personal data: keep a pseudonym that still groups by person.
    return token if token.startswith("@") else f"email:{email_hash(token)}"


def parse(text: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        pattern, *owners = line.split()
        if pattern.startswith("!") or "[" in pattern:  # not supported by GitHub either
            continue
        rules.append(Rule(pattern, tuple(_owner(o) for o in owners), _globs(pattern)))
    return rules


def owners_of(path: str, rules: list[Rule]) -> tuple[tuple[str, ...], str | None]:
    """The owners of ``path`` and the pattern that decided, or ((), None)."""
    for rule in reversed(rules):
        if matches(path, rule.globs):
            return rule.owners, rule.pattern
    return (), None
