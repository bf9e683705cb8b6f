"""search(): the access prefilter holds in every mode, and hybrid fusion is plain RRF."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from retrieval import AccessScope, ChunkIndex, HashingEmbedder, Hit, Principal, rrf_fuse, search
from tests.retrieval.conftest import chunk

TENANTS = ("north", "south", "west")
GROUPS = ("eng", "hr", "ops", "sales")
TOPICS = ("quarterly revenue forecast", "incident runbook for the database",
          "holiday policy and leave", "release checklist for mobile", "vendor contract renewal",
          "onboarding guide for engineers", "on-call rotation schedule", "pricing change memo")
CANARY = "canary vault code 7734 for the safe"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChunkIndex, dict[str, dict]]:
    """Identical texts in every tenant, each copy with its own random ACL."""
    rng = random.Random(7)
    rows = []
    for tenant in TENANTS:
        for i, text in enumerate((*TOPICS, CANARY)):
            for copy in range(3):
                groups = rng.sample(GROUPS, rng.randint(1, 2))
                rows.append(chunk(f"{tenant}-{i}-{copy}", f"{text} part {copy}", tenant=tenant,
                                  acl_groups=tuple(groups),
                                  route=rng.choice(["volatile", "static", "overflow"])))
    index = ChunkIndex(tmp_path_factory.mktemp("planted"), embedder=HashingEmbedder(dim=64))
    index.sync(rows)
    return index, {r["chunk_id"]: r for r in rows}


def random_scope(rng: random.Random) -> AccessScope:
    return AccessScope(tenants=frozenset(rng.sample(TENANTS, rng.randint(1, 2))),
                       groups=frozenset(rng.sample(GROUPS, rng.randint(1, 2))))


def test_no_hit_outside_scope_over_1000_random_queries(planted) -> None:
    """1,000 random (principal, query) pairs, the modes taking turns; 0 hits may leak."""
    index, rows = planted
    rng = random.Random(2024)
    vocabulary = " ".join((*TOPICS, CANARY)).split()
    modes = ("vector", "fts", "hybrid")
    hits_by_mode = dict.fromkeys(modes, 0)
    for i in range(1000):
        mode = modes[i % 3]
        scope = random_scope(rng)
        query = " ".join(rng.sample(vocabulary, rng.randint(1, 4)))
        hits = search(index, query, scope, k=5, mode=mode)
        hits_by_mode[mode] += len(hits)
        leaks = [h.chunk_id for h in hits
                 if not scope.allows(h.tenant, rows[h.chunk_id]["acl_groups"])]
        assert leaks == [], f"{mode} query {query!r} for {scope} leaked {leaks}"
        if mode == "vector":
            readable = sum(scope.allows(r["tenant"], r["acl_groups"]) for r in rows.values())
            assert len(hits) == min(5, readable)  # prefiltered: never starved by top-k
    # Each mode searched a populated index and found plenty, so "no leak" means something.
    assert min(hits_by_mode.values()) > 500, hits_by_mode


def test_identical_canary_is_found_only_in_the_askers_tenant(planted) -> None:
    index, _ = planted
    for tenant in TENANTS:
        scope = AccessScope(tenants=frozenset({tenant}), groups=frozenset(GROUPS))
        for mode in ("vector", "fts", "hybrid"):
            hits = search(index, CANARY, scope, k=10, mode=mode)
            assert hits and {h.tenant for h in hits} == {tenant}
            assert {h.chunk_id for h in hits[:3]} == {f"{tenant}-8-{c}" for c in range(3)}


def test_prefilter_does_not_starve_a_narrow_scope(tmp_path: Path) -> None:
    """500 near copies of the query outrank the 2 readable chunks; a post-filter on the top
    k would return nothing, the prefilter returns both."""
    rows = [chunk(f"other-{i}", f"deployment guide for service {i}", tenant="other")
            for i in range(500)]
    rows += [chunk("mine-1", "gardening notes", tenant="mine", acl_groups=("garden",)),
             chunk("mine-2", "compost recipe", tenant="mine", acl_groups=("garden",))]
    index = ChunkIndex(tmp_path, embedder=HashingEmbedder(dim=64))
    index.sync(rows)
    scope = AccessScope(tenants=frozenset({"mine"}), groups=frozenset({"garden"}))
    hits = search(index, "deployment guide for service", scope, k=5)
    assert sorted(h.chunk_id for h in hits) == ["mine-1", "mine-2"]


def test_routes_filter_and_principal(planted) -> None:
    index, rows = planted
    alice = Principal(user="alice", groups=frozenset(GROUPS), tenants=frozenset({"north"}))
    for mode in ("vector", "fts", "hybrid"):
        hits = search(index, "holiday policy", alice, k=10, mode=mode, routes={"volatile"})
        assert hits and all(rows[h.chunk_id]["route"] == "volatile" for h in hits)
        assert {h.tenant for h in hits} == {"north"}


def test_scope_without_groups_finds_nothing(planted) -> None:
    index, _ = planted
    scope = AccessScope(tenants=frozenset(TENANTS), groups=frozenset())
    assert search(index, "holiday policy", scope, mode="hybrid") == []


def test_a_group_nobody_has_finds_nothing(planted) -> None:
    index, _ = planted
    scope = AccessScope(tenants=frozenset(TENANTS), groups=frozenset({"nobody"}))
    for mode in ("vector", "fts", "hybrid"):
        assert search(index, "holiday policy", scope, mode=mode) == []


def test_hostile_query_text_is_only_text(planted) -> None:
    index, _ = planted
    scope = AccessScope(tenants=frozenset({"north"}), groups=frozenset({"eng"}))
    for mode in ("vector", "fts", "hybrid"):
        hits = search(index, "x') OR true -- \" : AND (", scope, k=5, mode=mode)
        assert all(h.tenant == "north" for h in hits)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "semantic"}, "unknown search mode"),
    ({"k": 0}, "k must be at least 1"),
    ({"query": "   "}, "the query is empty"),
    ({"routes": {"archive"}}, "unknown routes"),
])
def test_bad_arguments_fail_loudly(planted, kwargs: dict, message: str) -> None:
    index, _ = planted
    args = {"query": "holiday", "scope": AccessScope(frozenset({"north"}), frozenset({"hr"})),
            **kwargs}
    with pytest.raises(ValueError, match=message):
        search(index, **args)


def _hit(chunk_id: str) -> Hit:
    return Hit(chunk_id=chunk_id, document_id="d", tenant="t", route="volatile", source_id="s",
               path=None, section=None, text=chunk_id, score=0.0)


def test_rrf_fuse_scores_and_order() -> None:
    vector = [_hit("a"), _hit("b"), _hit("c")]
    fts = [_hit("c"), _hit("d")]
    fused = rrf_fuse([vector, fts], k=3)
    assert [h.chunk_id for h in fused] == ["c", "a", "b"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)
    # equal scores: ordered by chunk id, so results are reproducible
    assert [h.chunk_id for h in rrf_fuse([[_hit("y")], [_hit("x")]], k=2)] == ["x", "y"]
