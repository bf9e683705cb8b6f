"""Identifiers are validated before they can reach the prefilter SQL."""

from __future__ import annotations

import pytest

from retrieval.access import AccessScope, Principal, quote, routes_filter, validate_identifier

MALICIOUS = [
    "x') OR true --",
    "eng' OR '1'='1",
    "eng]) OR true --",
    "Eng",  # upper case: the allowlist is lower case only
    "eng team",
    "",
    "-eng",  # must start with a letter or digit
    "a" * 64,  # 63 characters at most
    "eng;drop",
    "eng\n",
    "\uff45\uff4e\uff47",  # full-width "eng": looks alike, is not ASCII
]


@pytest.mark.parametrize("bad", MALICIOUS)
def test_malicious_group_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid group"):
        AccessScope(tenants=frozenset({"acme"}), groups=frozenset({"eng", bad}))


@pytest.mark.parametrize("bad", MALICIOUS)
def test_malicious_tenant_and_user_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant"):
        AccessScope(tenants=frozenset({bad}), groups=frozenset({"eng"}))
    with pytest.raises(ValueError, match="invalid user"):
        Principal(user=bad, groups=frozenset({"eng"}), tenants=frozenset({"acme"}))


def test_non_string_identifier_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid group 7"):
        AccessScope(tenants=frozenset({"acme"}), groups=frozenset({7}))  # type: ignore[arg-type]


def test_a_bare_string_is_not_split_into_characters() -> None:
    with pytest.raises(ValueError, match="collection of identifiers"):
        AccessScope(tenants="acme", groups=frozenset({"eng"}))  # type: ignore[arg-type]


def test_filter_sql_is_exact_and_sorted() -> None:
    scope = AccessScope(tenants=frozenset({"b", "a"}), groups=frozenset({"hr", "eng-1"}))
    assert scope.to_filter() == (
        "tenant IN ('a', 'b') AND array_has_any(acl_groups, ['eng-1', 'hr'])"
    )


def test_principal_scope_carries_its_groups_and_tenants() -> None:
    principal = Principal(user="alice", groups=frozenset({"eng"}), tenants=frozenset({"acme"}))
    assert principal.scope == AccessScope(frozenset({"acme"}), frozenset({"eng"}))


def test_empty_scope_reads_nothing() -> None:
    scope = AccessScope(tenants=frozenset({"acme"}), groups=frozenset())
    assert scope.is_empty
    assert not scope.allows("acme", ["eng"])
    with pytest.raises(ValueError, match="can read nothing"):
        scope.to_filter()


def test_quote_revalidates() -> None:
    assert quote("eng_2") == "'eng_2'"
    with pytest.raises(ValueError):
        quote("it's")
    assert validate_identifier("a-b_c9", "group") == "a-b_c9"


def test_routes_filter() -> None:
    assert routes_filter(None) is None
    assert routes_filter({"volatile"}) == "route IN ('volatile')"
    assert routes_filter(["static", "overflow"]) == "route IN ('overflow', 'static')"
    with pytest.raises(ValueError, match="unknown routes"):
        routes_filter({"volatile') OR true --"})
    with pytest.raises(ValueError, match="routes is empty"):
        routes_filter(set())
