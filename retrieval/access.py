"""Who may read what: validated identifiers and the prefilter SQL built from them.

A chunk is readable by a scope when its tenant is one of the scope's tenants AND it shares at
least one ACL group with the scope. A chunk without groups is readable by nobody (fail closed).

The filter is SQL text for LanceDB's DataFusion dialect, so it is built only from identifiers
that match ``IDENTIFIER`` (lower-case letters, digits, ``_`` and ``-``): no quote, space or
operator can reach the query. Quoting is still applied, and re-checks the identifier, so a
future caller that skips validation fails instead of injecting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ROUTES = frozenset({"volatile", "static", "overflow"})


def validate_identifier(value: object, what: str) -> str:
    """Return ``value`` if it is an allowed identifier, else raise ValueError naming it."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"invalid {what} {value!r}: identifiers must match {IDENTIFIER.pattern} "
            "(lower-case letters, digits, '_' and '-', at most 63 characters)"
        )
    return value


def _identifiers(values: Iterable[str] | str, what: str) -> frozenset[str]:
    if isinstance(values, str):  # a bare string would otherwise be split into characters
        raise ValueError(f"{what}s must be a collection of identifiers, got the string {values!r}")
    return frozenset(validate_identifier(v, what) for v in values)


def quote(identifier: str) -> str:
    """SQL string literal for a validated identifier."""
    return "'" + validate_identifier(identifier, "identifier") + "'"


def in_list(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` over validated identifiers, in a stable order."""
    return f"{column} IN ({', '.join(quote(v) for v in sorted(values))})"


@dataclass(frozen=True)
class AccessScope:
    """The tenants and groups a query may read. Both must be non-empty to read anything."""

    tenants: frozenset[str]
    groups: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenants", _identifiers(self.tenants, "tenant"))
        object.__setattr__(self, "groups", _identifiers(self.groups, "group"))

    @property
    def is_empty(self) -> bool:
        """True when the scope can read nothing; search then returns no hits without querying."""
        return not self.tenants or not self.groups

    def to_filter(self) -> str:
        """The prefilter: ``tenant IN (...) AND array_has_any(acl_groups, [...])``."""
        if self.is_empty:
            raise ValueError("an empty access scope has no filter: it can read nothing")
        groups = ", ".join(quote(g) for g in sorted(self.groups))
        return f"{in_list('tenant', self.tenants)} AND array_has_any(acl_groups, [{groups}])"

    def allows(self, tenant: str, acl_groups: Iterable[str]) -> bool:
        """The same rule in Python, for tests and for checking hits after the fact."""
        return tenant in self.tenants and not self.groups.isdisjoint(acl_groups)


@dataclass(frozen=True)
class Principal:
    """A user with the groups they belong to (kc.yaml ``users``) and the tenants they may query.

    Groups are global names (as in kc.yaml, where sources and users share them); ``tenants``
    narrows a query to some tenants, e.g. the tenant whose adapter is being evaluated.
    """

    user: str
    groups: frozenset[str]
    tenants: frozenset[str]

    def __post_init__(self) -> None:
        validate_identifier(self.user, "user")
        object.__setattr__(self, "groups", _identifiers(self.groups, "group"))
        object.__setattr__(self, "tenants", _identifiers(self.tenants, "tenant"))

    @property
    def scope(self) -> AccessScope:
        return AccessScope(tenants=self.tenants, groups=self.groups)


def routes_filter(routes: Iterable[str] | None) -> str | None:
    """``route IN (...)`` for a validated set of routes, or None for every route."""
    if routes is None:
        return None
    chosen = frozenset(routes) if not isinstance(routes, str) else frozenset({routes})
    unknown = sorted(chosen - ROUTES)
    if unknown:
        raise ValueError(f"unknown routes {unknown}: expected some of {sorted(ROUTES)}")
    if not chosen:
        raise ValueError("routes is empty: pass None for every route")
    return in_list("route", chosen)
