"""A github source against the local stand-in: files, issues, pull requests, owners, access,
incremental runs, and one repository's failure not stopping the others."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from examples.github_org.server import GitHubStandIn
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.github.config import GitHubAccess, GitHubSpec
from ingestion.github.errors import GitHubAuthError, GitHubNotFound, MissingToken
from ingestion.github.ingest import ingest_github, repo_source_id
from ingestion.warehouse import connect

TOKEN = "ghp_standin_secret_token_123"
AS_OF = datetime(2025, 3, 1, 12, tzinfo=UTC)
ACCESS = GitHubAccess(public=("engineering", "contractors"),
                      teams=(("platform", ("engineering",)),))


@pytest.fixture
def standin(tmp_path: Path):
    with GitHubStandIn(tmp_path / "standin", token=TOKEN, as_of=AS_OF) as gh:
        yield gh


@pytest.fixture
def env_token(monkeypatch):
    monkeypatch.setenv("KC_TEST_GH_TOKEN", TOKEN)


def _spec(gh: GitHubStandIn, *, access=ACCESS, repos=("*",), name="gh") -> SourceSpec:
    return SourceSpec(name=name, type="github", tenant="engineering",
                      acl_groups=("engineering", "contractors"),
                      github=GitHubSpec(owner="northwind", repos=repos, api_url=gh.api_url,
                                        token_env="KC_TEST_GH_TOKEN", access=access,
                                        per_page=2, max_retries=3))


def _ingest(tmp_path, spec, worker, sleep=None):
    from ingestion.github.client import GitHubClient
    from ingestion.github.ingest import default_client

    def factory(gh, token, cache):
        client = default_client(gh, token, cache)
        if sleep is not None:
            client._sleep = sleep
            client._clock = AS_OF.timestamp
        return client

    with connect(tmp_path / "wh.duckdb") as con:
        reports = ingest_github(con, spec, IngestionConfig(), home=tmp_path / "home",
                                worker=worker, now=AS_OF, client_factory=factory)
        assert GitHubClient  # the factory builds the real client
        return reports


def _q(tmp_path, sql, params=()):
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_org_ingested_with_access_issues_pulls_and_owners(tmp_path, standin, env_token,
                                                          parser_worker):
    reports = _ingest(tmp_path, _spec(standin), parser_worker)
    platform = repo_source_id("gh", "platform-api")
    assert sorted(r.source for r in reports) == ["gh--handbook", platform]
    sources = dict((s, (t, tuple(g), r, u)) for s, t, g, r, u in _q(
        tmp_path, "select source_id, source_type, acl_groups, route_override, uri "
                  "from raw.sources"))
    # public: the mapping's public groups; private platform-api: only its team's group,
    # and so retrieval-only; billing-service's team maps to no group of this source.
    assert sources["gh--handbook"][:3] == ("github", ("engineering", "contractors"), None)
    assert sources[platform][:3] == ("github", ("engineering",), "volatile")
    assert sources[platform][3] == f"{standin.web_url}/northwind/platform-api"
    # Refused repositories: a source row readable by no group, holding no document.
    assert sources["gh--billing-service"][1] == () and sources["gh--security-notes"][1] == ()
    assert "gh--upstream-fork" not in sources  # forks are skipped unless include_forks
    assert _q(tmp_path, "select count(*) from raw.documents where source_id in "
                        "('gh--billing-service', 'gh--security-notes')") == [(0,)]
    failures = dict((s, (p, e, r)) for s, p, e, r in _q(
        tmp_path, "select source_id, path, exception_class, reason from raw.ingest_failures"))
    assert set(failures) == {"gh--billing-service", "gh--security-notes"}
    assert failures["gh--security-notes"][:2] == ("northwind/security-notes", "NoReadableGroup")
    assert "map one of its teams" in failures["gh--security-notes"][2]

    docs = {(s, p) for s, p in _q(tmp_path, "select source_id, path from raw.documents "
                                            "where not is_deleted")}
    assert {(platform, "_github/issues/14.md"), (platform, "_github/pulls/15.md"),
            (platform, "_github/issues/3.md"), (platform, "src/ratelimit.py"),
            (platform, "docs/runbook.md"), ("gh--handbook", "_github/issues/7.md"),
            ("gh--handbook", "oncall.md")} <= docs
    text = "\n".join(t for (t,) in _q(
        tmp_path, "select c.text from raw.chunks c join raw.documents d using (document_id) "
                  "where d.path = '_github/pulls/15.md' order by chunk_index"))
    assert "keep REFILL_PER_SECOND at 40" in text and "src/ratelimit.py, line 3" in text
    assert "Labels: enhancement" in text
    items = dict((n, (k, s, tuple(lb))) for n, k, s, lb in _q(
        tmp_path, "select number, kind, state, labels from raw.github_items where source_id = ?",
        [platform]))
    assert items == {14: ("issue", "open", ("bug", "p1")), 15: ("pull", "open", ("enhancement",)),
                     3: ("issue", "closed", ("infrastructure",))}
    # A version's time is the item's last activity: dbt sees open items as recently changed.
    modified = dict(_q(tmp_path, "select d.path, v.modified_at from raw.document_versions v "
                                 "join raw.documents d using (document_id) where d.source_id = ?",
                       [platform]))
    assert (AS_OF - modified["_github/issues/3.md"]).days == 240
    assert (AS_OF - modified["_github/issues/14.md"]).days == 1
    owners = dict((p, (tuple(o), r)) for p, o, r in _q(
        tmp_path, "select path, owners, rule from raw.document_owners where source_id = ?",
        [platform]))
    assert owners["src/ratelimit.py"] == (("@northwind/platform", "@tomas"), "src/ratelimit.py")
    assert owners["docs/runbook.md"] == (("@maria",), "/docs/")
    assert owners["README.md"] == (("@northwind/platform",), "*")


def test_token_is_never_stored(tmp_path, standin, env_token, parser_worker):
    _ingest(tmp_path, _spec(standin), parser_worker)
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN.encode() not in (tmp_path / "wh.duckdb").read_bytes()
    config = (tmp_path / "home/github/gh/platform-api.git/config").read_text()
    assert f"url = {standin.git_url}/northwind/platform-api.git" in config


def test_second_run_only_conditional_requests_and_writes_nothing(tmp_path, standin, env_token,
                                                                 parser_worker):
    spec = _spec(standin)
    _ingest(tmp_path, spec, parser_worker)
    tables = ("documents", "document_versions", "chunks", "github_items", "document_owners",
              "github_http_cache", "github_repos", "git_commits")
    before = {t: _q(tmp_path, f"select * from raw.{t} order by all") for t in tables}
    first = len(standin.requests())
    reports = _ingest(tmp_path, spec, parser_worker)
    second = standin.requests()[first:]
    assert second, "the second run asked nothing"
    assert [r for r in second if not (r.conditional and r.status == 304)] == []
    assert {r.new_documents + r.changed_documents + r.versions_written + r.chunks_written
            for r in reports} == {0}
    after = {t: _q(tmp_path, f"select * from raw.{t} order by all") for t in tables}
    for t in tables:
        assert [r for r in after[t] if r not in before[t]] == [], t
        assert [r for r in before[t] if r not in after[t]] == [], t


def test_new_comment_makes_one_new_version(tmp_path, standin, env_token, parser_worker):
    spec = _spec(standin)
    _ingest(tmp_path, spec, parser_worker)
    standin.add_comment("handbook", 7, "maria", "Agreed: Tuesday handover starts in April.")
    reports = {r.source: r for r in _ingest(tmp_path, spec, parser_worker)}
    assert reports["gh--handbook"].changed_documents == 1
    assert reports["gh--handbook"].versions_written == 1
    assert reports[repo_source_id("gh", "platform-api")].versions_written == 0
    versions = _q(tmp_path, "select v.version_number from raw.document_versions v join "
                            "raw.documents d using (document_id) where d.path = "
                            "'_github/issues/7.md' order by 1")
    assert versions == [(1,), (2,)]
    text = " ".join(t for (t,) in _q(
        tmp_path, "select c.text from raw.chunks c join raw.documents d using (document_id) "
                  "where d.path = '_github/issues/7.md'"))
    assert "Tuesday handover starts in April" in text and "will be updated once" in text


def test_rate_limit_and_server_errors_are_retried(tmp_path, standin, env_token, parser_worker):
    standin.fail(r"/orgs/northwind/repos", 429, headers={"Retry-After": "7"})
    standin.fail(r"/repos/northwind/handbook/issues\?", 502, times=2)
    standin.fail(r"/issues/comments", 403, headers={"X-RateLimit-Remaining": "0",
                                                    "X-RateLimit-Reset": str(
                                                        int(AS_OF.timestamp()) + 30)},
                 message="API rate limit exceeded")
    slept: list[float] = []
    reports = _ingest(tmp_path, _spec(standin), parser_worker, sleep=slept.append)
    assert len(reports) == 2
    # Retry-After, then backoff on 502, then the primary limit's reset (30 s from now, + 1).
    assert slept == [7.0, 1.0, 2.0, 31.0]
    assert _q(tmp_path, "select count(*) from raw.documents where path = '_github/issues/7.md'"
              ) == [(1,)]


def test_one_broken_repository_does_not_stop_the_others(tmp_path, standin, env_token,
                                                        parser_worker):
    import shutil
    shutil.rmtree(standin.root / "git/northwind/handbook.git")
    reports = _ingest(tmp_path, _spec(standin), parser_worker)
    assert [r.source for r in reports] == [repo_source_id("gh", "platform-api")]
    (reason,) = _q(tmp_path, "select reason from raw.ingest_failures where source_id = "
                             "'gh--handbook'")[0]
    assert "could not clone" in reason and TOKEN not in reason


def test_private_repo_with_unreadable_teams_fails_closed(tmp_path, standin, env_token,
                                                         parser_worker):
    spec = _spec(standin)
    _ingest(tmp_path, spec, parser_worker)
    platform = repo_source_id("gh", "platform-api")
    standin.forbidden_teams.add("platform-api")
    _ingest(tmp_path, spec, parser_worker)
    assert _q(tmp_path, "select count(*) from raw.documents where source_id = ? and not "
                        "is_deleted", [platform]) == [(0,)]
    assert _q(tmp_path, "select count(*) from raw.chunks c join raw.documents d using "
                        "(document_id) where d.source_id = ?", [platform]) == [(0,)]
    assert _q(tmp_path, "select acl_groups from raw.sources where source_id = ?",
              [platform]) == [([],)]
    (reason,) = _q(tmp_path, "select reason from raw.ingest_failures where source_id = ?",
                   [platform])[0]
    assert "its teams could not be read" in reason


def test_without_mapping_every_repository_gets_the_source_groups(tmp_path, standin, env_token,
                                                                 parser_worker):
    _ingest(tmp_path, _spec(standin, access=None, repos=("billing-*", "security-*")),
            parser_worker)
    rows = _q(tmp_path, "select source_id, acl_groups, route_override from raw.sources "
                        "order by 1")
    assert rows == [("gh--billing-service", ["engineering", "contractors"], None),
                    ("gh--security-notes", ["engineering", "contractors"], None)]


def test_bad_token_missing_org_and_missing_variable(tmp_path, standin, monkeypatch,
                                                    parser_worker):
    monkeypatch.setenv("KC_TEST_GH_TOKEN", "wrong")
    with pytest.raises(GitHubAuthError, match="401 Bad credentials"):
        _ingest(tmp_path, _spec(standin), parser_worker)
    monkeypatch.setenv("KC_TEST_GH_TOKEN", TOKEN)
    spec = _spec(standin)
    missing = SourceSpec(name="gh", type="github", tenant="engineering",
                         acl_groups=("engineering",),
                         github=GitHubSpec(owner="nosuchorg", api_url=standin.api_url,
                                           token_env="KC_TEST_GH_TOKEN"))
    with pytest.raises(GitHubNotFound, match=r"'nosuchorg' was not found.*owner_type: user"):
        _ingest(tmp_path, missing, parser_worker)
    monkeypatch.delenv("KC_TEST_GH_TOKEN")
    with pytest.raises(MissingToken, match="KC_TEST_GH_TOKEN"):
        _ingest(tmp_path, spec, parser_worker)
