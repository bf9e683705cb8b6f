"""CODEOWNERS, the access mapping, the GitHub client's politeness, and kc.yaml's github block."""

from __future__ import annotations

import httpx
import pytest

from ingestion.github import codeowners
from ingestion.github.access import NoReadableGroup, repo_groups
from ingestion.github.client import CachedResponse, GitHubClient, next_link
from ingestion.github.config import GitHubAccess
from ingestion.github.errors import GitHubAuthError, GitHubError, GitHubForbidden

RULES = codeowners.parse("""
# comment
*       @org/everyone
*.js    @js-owner  # trailing comment
/build/logs/ @doctocat
docs/*  docs@example.com
apps/   @octocat
/scripts/ @doctocat @octocat
src/legacy
""")


@pytest.mark.parametrize(("path", "owners", "rule"), [
    ("README.md", ("@org/everyone",), "*"),
    ("web/app.js", ("@js-owner",), "*.js"),
    ("build/logs/a.txt", ("@doctocat",), "/build/logs/"),
    ("x/build/logs/a.txt", ("@org/everyone",), "*"),
    ("docs/getting-started.md", (f"email:{codeowners.email_hash('docs@example.com')}",),
     "docs/*"),
    ("docs/build-app/troubleshooting.md", ("@org/everyone",), "*"),
    ("apps/a/b.py", ("@octocat",), "apps/"),
    ("deep/apps/b.py", ("@octocat",), "apps/"),
    ("scripts/run.sh", ("@doctocat", "@octocat"), "/scripts/"),
    ("src/legacy/old.py", (), "src/legacy"),
])
def test_codeowners_last_match_wins(path, owners, rule):
    assert codeowners.owners_of(path, RULES) == (owners, rule)


def test_codeowners_without_rules():
    assert codeowners.owners_of("a.py", []) == ((), None)


ACCESS = GitHubAccess(public=("eng", "all"), private=(), teams=(("platform", ("eng",)),
                                                                ("fin-team", ("fin",))))
ACL = ("eng", "fin", "all")


def test_access_mapping():
    assert repo_groups(ACL, None, "private", None, "o/r") == ACL
    assert repo_groups(ACL, ACCESS, "public", None, "o/r") == ("eng", "all")
    assert repo_groups(ACL, ACCESS, "private", ["platform", "fin-team", "x"], "o/r") == (
        "eng", "fin")
    assert repo_groups(ACL, ACCESS, "internal", ["fin-team"], "o/r") == ("fin",)
    with pytest.raises(NoReadableGroup, match="o/r is private and its teams could not be read"):
        repo_groups(ACL, ACCESS, "private", None, "o/r")
    with pytest.raises(NoReadableGroup, match=r"its teams \(security\) map to no group"):
        repo_groups(ACL, ACCESS, "private", ["security"], "o/r")
    # the source's acl_groups bound what a mapping may grant
    assert repo_groups(("eng",), ACCESS, "private", ["platform", "fin-team"], "o/r") == ("eng",)


def test_next_link():
    link = ('<https://api.github.com/x?page=3>; rel="next", '
            '<https://api.github.com/x?page=9>; rel="last"')
    assert next_link(link) == "https://api.github.com/x?page=3"
    assert next_link('<https://api.github.com/x?page=1>; rel="prev"') is None
    assert next_link(None) is None


def _client(handler, **kw):
    slept: list[float] = []
    client = GitHubClient("https://ghe.example/api/v3", "tok", sleep=slept.append,
                          clock=lambda: 1000.0, transport=httpx.MockTransport(handler), **kw)
    return client, slept


def test_timeouts_and_5xx_are_retried_with_backoff():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(calls) == 2:
            return httpx.Response(503)
        return httpx.Response(200, json={"ok": True})

    client, slept = _client(handler)
    assert client.get("/meta") == {"ok": True}
    assert slept == [1.0, 2.0]
    assert calls[0].headers["Authorization"] == "Bearer tok"
    assert calls[0].headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_gives_up_after_max_retries():
    client, slept = _client(lambda r: httpx.Response(502), max_retries=2)
    with pytest.raises(GitHubError, match=r"giving up .* after 3 tries: server error 502"):
        client.get("/meta")
    assert slept == [1.0, 2.0]


def test_primary_limit_waits_for_reset_before_next_request():
    responses = [httpx.Response(200, json=[1], headers={"X-RateLimit-Remaining": "0",
                                                        "X-RateLimit-Reset": "1100"}),
                 httpx.Response(200, json=[2])]
    client, slept = _client(lambda r: responses.pop(0))
    assert client.get("/a") == [1]
    assert client.get("/b") == [2]
    assert slept == [101.0]


def test_secondary_limit_without_retry_after_waits_a_minute():
    responses = [httpx.Response(403, json={"message": "You have exceeded a secondary rate "
                                                      "limit."}),
                 httpx.Response(200, json={})]
    client, slept = _client(lambda r: responses.pop(0))
    client.get("/a")
    assert slept == [60.0]


def test_429_retry_after_then_200():
    responses = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=1)]
    client, slept = _client(lambda r: responses.pop(0))
    assert client.get("/a") == 1 and slept == [3.0]


def test_wait_longer_than_allowed_is_an_error():
    client, _ = _client(lambda r: httpx.Response(429, headers={"Retry-After": "5000"}))
    with pytest.raises(GitHubError, match="wait of 5000 s, over the 900 s"):
        client.get("/a")


def test_401_and_plain_403_are_not_retried():
    client, slept = _client(lambda r: httpx.Response(401, json={"message": "Bad credentials"}))
    with pytest.raises(GitHubAuthError, match="401 Bad credentials"):
        client.get("/a")
    client, slept = _client(lambda r: httpx.Response(403, json={"message": "Resource not "
                                                                           "accessible"}))
    with pytest.raises(GitHubForbidden, match="Resource not accessible"):
        client.get("/a")
    assert slept == []


def test_conditional_request_served_from_cache():
    url = "https://ghe.example/api/v3/orgs/o/repos"
    seen = []

    def handler(request):
        seen.append(request.headers.get("If-None-Match"))
        return httpx.Response(304, headers={"ETag": '"e1"'})

    client, _ = _client(handler, cache={url: CachedResponse('"e1"', "[1, 2]", None)})
    assert client.get_all("/orgs/o/repos") == [1, 2]
    assert seen == ['"e1"'] and client.stats.not_modified == 1
    assert client.used == {url: CachedResponse('"e1"', "[1, 2]", None)}


def test_changes_listing_unchanged_is_none():
    url = "https://ghe.example/api/v3/r/issues?direction=desc"
    client, _ = _client(lambda r: httpx.Response(304),
                        cache={url: CachedResponse('"e"', "", None)})
    assert client.get_changes("/r/issues", {"direction": "desc"}) is None
    with pytest.raises(ValueError, match="newest first"):
        client.get_changes("/r/issues", {"direction": "asc"})


# ---------------------------------------------------------------------- kc.yaml
def _settings(tmp_path, github: str, acl: str = "[eng, contractors]"):
    from settings.config import load_settings

    path = tmp_path / "kc.yaml"
    path.write_text(f"""
sources:
  - name: gh
    type: github
    tenant: eng
    acl_groups: {acl}
    github:
{github}
""")
    return load_settings(path)


def test_kc_yaml_github_source(tmp_path):
    from ingestion.config import source_specs

    settings = _settings(tmp_path, """      owner: northwind
      repos: ["platform-*"]
      api_url: https://ghe.example/api/v3/
      token_env: KC_GITHUB_TOKEN
      access: {public: [eng, contractors], teams: {platform: [eng]}}""")
    (spec,) = source_specs(settings)
    assert spec.type == "github" and spec.path is None and spec.url is None
    assert spec.github.api_url == "https://ghe.example/api/v3"
    assert spec.github.repos == ("platform-*",)
    assert spec.github.access.team_groups == {"platform": ("eng",)}


@pytest.mark.parametrize(("block", "message"), [
    ("      owner: northwind\n      token_env: ghp_abc123", "token_env"),
    ("      owner: northwind\n      access: {teams: {platform: [finance]}}",
     r"groups \['finance'\] that are not in acl_groups"),
    ("      owner: north/wind", "owner"),
])
def test_kc_yaml_github_errors(tmp_path, block, message):
    from settings.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        _settings(tmp_path, block)
