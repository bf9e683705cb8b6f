"""The stand-in's organisation: repositories, teams, issues, pull requests and comments.

Every object has the shape GitHub's published REST schema gives it (api.github.com OpenAPI
description, API version 2022-11-28): ``repository`` / ``minimal-repository`` for the
repository listing, ``team`` for repository teams, ``issue`` (with ``pull_request`` for pull
requests) for the issue listing, ``issue-comment`` and ``pull-request-review-comment`` for the
comment listings, ``simple-user`` and ``label`` inside them. Fields the ingest does not read
are kept too, with plausible values, so the client is exercised against the real shapes.

Dates are relative to ``as_of``: open discussions were active days ago, closed ones months
ago, so routing shows the first as volatile and the second as static.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from examples.northwind.gitutil import Commit

OWNER = "northwind"
OWNER_ID = 9100


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def simple_user(login: str, uid: int, api: str, web: str, kind: str = "User") -> dict:
    return {
        "login": login, "id": uid, "node_id": f"MDQ6VXNlcnt{uid}", "avatar_url":
        f"{web}/avatars/u/{uid}", "gravatar_id": "", "url": f"{api}/users/{login}",
        "html_url": f"{web}/{login}", "followers_url": f"{api}/users/{login}/followers",
        "following_url": f"{api}/users/{login}/following{{/other_user}}",
        "gists_url": f"{api}/users/{login}/gists{{/gist_id}}",
        "starred_url": f"{api}/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/users/{login}/subscriptions",
        "organizations_url": f"{api}/users/{login}/orgs", "repos_url":
        f"{api}/users/{login}/repos", "events_url": f"{api}/users/{login}/events{{/privacy}}",
        "received_events_url": f"{api}/users/{login}/received_events", "type": kind,
        "user_view_type": "public", "site_admin": False,
    }


USERS = {"maria": 9201, "tomas": 9202, "yuki": 9203, "omar": 9204, "lena": 9205}


@dataclass
class IssueFixture:
    number: int
    title: str
    body: str
    author: str
    created_days_ago: float
    updated_days_ago: float
    labels: tuple[str, ...] = ()
    closed_days_ago: float | None = None
    state_reason: str | None = None
    pull: bool = False
    merged: bool = False
    comments: list[tuple[str, float, str]] = field(default_factory=list)  # (who, days ago, body)
    # (who, days ago, path, line, body)
    reviews: list[tuple[str, float, str, int, str]] = field(default_factory=list)


@dataclass
class RepoFixture:
    name: str
    visibility: str  # public | private | internal
    description: str
    teams: tuple[str, ...]
    commits: list[Commit]
    issues: list[IssueFixture]
    fork: bool = False
    archived: bool = False


TEAMS = {"platform": (9301, "Platform"), "finance": (9302, "Finance"),
         "security": (9303, "Security")}


def _commits(as_of: datetime, files: list[tuple[float, str, str, str]]) -> list[Commit]:
    """(days ago, path, content, message), oldest first."""
    author = ("Northwind Bot", "bot@northwind.example")
    return [Commit(as_of - timedelta(days=d), author, msg, {path: text})
            for d, path, text, msg in sorted(files, key=lambda f: -f[0])]


def repositories(as_of: datetime) -> list[RepoFixture]:
    """The organisation as the demo and the tests see it."""
    return [
        RepoFixture(
            "platform-api", "private", "The public API gateway and its rate limiter",
            ("platform",),
            _commits(as_of, [
                (400, "README.md", "# platform-api\n\nThe gateway in front of every Northwind "
                 "service. Owned by the platform team.\n", "Initial import"),
                (390, ".github/CODEOWNERS", "# Owners of platform-api\n* @northwind/platform\n"
                 "/docs/ @maria\nsrc/ratelimit.py @northwind/platform @tomas\n",
                 "Add CODEOWNERS"),
                (380, "docs/runbook.md", "# Gateway runbook\n\n## Restarting the gateway\n\n"
                 "Drain the node from the load balancer, wait 30 seconds, then restart the "
                 "gateway service. Never restart more than one node at a time.\n",
                 "Add the runbook"),
                (200, "src/ratelimit.py", '"""Token bucket rate limiter of the gateway."""\n\n'
                 "BURST_LIMIT_RPS = 120\nREFILL_PER_SECOND = 40\n\n\ndef allow(bucket, cost=1):\n"
                 '    """True when the bucket holds at least `cost` tokens."""\n'
                 "    if bucket.tokens >= cost:\n        bucket.tokens -= cost\n"
                 "        return True\n    return False\n", "Rate limiter"),
            ]),
            [
                IssueFixture(
                    14, "Gateway drops bursts above 120 requests per second",
                    "Since the holiday sale the gateway answers 429 to bursts above 120 "
                    "requests per second from the checkout service. The burst limit of the "
                    "token bucket is too small for checkout.", "yuki", 9, 1, ("bug", "p1"),
                    comments=[("tomas", 6, "Confirmed: the checkout service bursts to about "
                               "200 requests per second at the top of every minute."),
                              ("maria", 1, "Workaround until the fix ships: checkout retries "
                               "with jitter; the fix is in pull request 15.")]),
                IssueFixture(
                    15, "Raise the gateway burst limit to 240 requests per second",
                    "Raises BURST_LIMIT_RPS from 120 to 240 so checkout bursts pass. Fixes "
                    "#14.", "tomas", 5, 0.5, ("enhancement",), pull=True,
                    reviews=[("maria", 2, "src/ratelimit.py", 3, "240 is fine for checkout, "
                              "but keep REFILL_PER_SECOND at 40 so sustained load is still "
                              "capped."),
                             ("yuki", 0.5, "src/ratelimit.py", 3, "Agreed, the refill rate "
                              "stays at 40 tokens per second.")]),
                IssueFixture(
                    3, "Move the gateway to the new load balancer",
                    "The old load balancer is retired at the end of the quarter.", "maria",
                    300, 240, ("infrastructure",), closed_days_ago=240,
                    state_reason="completed",
                    comments=[("omar", 250, "Done: every gateway node now sits behind the "
                               "new load balancer.")]),
            ]),
        RepoFixture(
            "handbook", "public", "How Northwind engineering works", (),
            _commits(as_of, [
                (500, "README.md", "# Engineering handbook\n\nHow we work at Northwind.\n",
                 "Start the handbook"),
                (450, "oncall.md", "# On-call\n\nThe on-call rota changes every Monday at "
                 "10:00. The secondary on-call covers the primary's lunch break.\n",
                 "On-call page"),
            ]),
            [
                IssueFixture(
                    7, "On-call handover moves from Monday to Tuesday",
                    "From next month the on-call handover happens on Tuesdays at 10:00 "
                    "instead of Mondays, so the handover never falls on a public holiday.",
                    "omar", 4, 2, ("process",),
                    comments=[("lena", 2, "The handbook page oncall.md will be updated once "
                               "this is agreed.")]),
                IssueFixture(
                    2, "Typo in the handbook README", "'engneering' should read "
                    "'engineering'.", "lena", 400, 390, ("docs",), closed_days_ago=390,
                    state_reason="completed"),
            ]),
        RepoFixture(
            "billing-service", "private", "Invoices and payment runs", ("finance",),
            _commits(as_of, [
                (300, "README.md", "# billing-service\n\nGenerates invoices and runs "
                 "payments.\n", "Initial import"),
            ]),
            [
                IssueFixture(
                    21, "Monthly invoice run moves to the third business day",
                    "Finance asked to move the monthly invoice run from the first to the "
                    "third business day so late usage records are included.", "lena", 3, 1,
                    ("finance", "process"),
                    comments=[("omar", 1, "Scheduled: the cron job now runs on the third "
                               "business day at 06:00 UTC.")]),
            ]),
        RepoFixture(
            "security-notes", "private", "Incident notes (security team only)",
            ("security",),
            _commits(as_of, [
                (100, "README.md", "# Security notes\n\nIncident write-ups; security team "
                 "only.\n", "Start notes"),
            ]),
            [IssueFixture(4, "Incident 2024-17 follow-ups", "Rotate the partner API "
                          "credentials used by the export job.", "yuki", 20, 3, ("incident",))]),
        RepoFixture(
            "upstream-fork", "public", "A fork of an open-source library", (),
            _commits(as_of, [(50, "README.md", "# A fork\n", "Fork")]), [], fork=True),
    ]


# ---------------------------------------------------------------------- REST shapes
def repo_json(repo: RepoFixture, as_of: datetime, api: str, web: str, git: str) -> dict:
    full = f"{OWNER}/{repo.name}"
    owner = simple_user(OWNER, OWNER_ID, api, web, kind="Organization")
    pushed = iso(max(c.when for c in repo.commits))
    rid = 9400 + sum(map(ord, repo.name))
    base = f"{api}/repos/{full}"
    return {
        "id": rid, "node_id": f"R_kgDO{rid}", "name": repo.name, "full_name": full,
        "private": repo.visibility != "public", "owner": owner,
        "html_url": f"{web}/{full}", "description": repo.description, "fork": repo.fork,
        "url": base, "archive_url": f"{base}/{{archive_format}}{{/ref}}",
        "branches_url": f"{base}/branches{{/branch}}",
        "comments_url": f"{base}/comments{{/number}}",
        "commits_url": f"{base}/commits{{/sha}}",
        "contents_url": f"{base}/contents/{{+path}}",
        "issue_comment_url": f"{base}/issues/comments{{/number}}",
        "issues_url": f"{base}/issues{{/number}}", "pulls_url": f"{base}/pulls{{/number}}",
        "labels_url": f"{base}/labels{{/name}}", "teams_url": f"{base}/teams",
        "git_url": f"git://127.0.0.1/{full}.git", "ssh_url": f"git@127.0.0.1:{full}.git",
        "clone_url": f"{git}/{full}.git", "svn_url": f"{web}/{full}", "homepage": None,
        "language": "Python" if repo.name.endswith(("api", "service")) else None,
        "forks_count": 0, "stargazers_count": 0, "watchers_count": 0,
        "size": 12, "default_branch": "main", "open_issues_count": sum(
            1 for i in repo.issues if i.closed_days_ago is None),
        "is_template": False, "topics": [], "has_issues": True, "has_projects": False,
        "has_wiki": False, "has_pages": False, "has_downloads": True,
        "has_discussions": False, "archived": repo.archived, "disabled": False,
        "visibility": repo.visibility, "pushed_at": pushed,
        "created_at": iso(min(c.when for c in repo.commits)), "updated_at": pushed,
        "permissions": {"admin": False, "maintain": False, "push": False, "triage": False,
                        "pull": True},
        "allow_forking": True, "web_commit_signoff_required": False,
        "forks": 0, "open_issues": 0, "watchers": 0,
    }


def team_json(slug: str, api: str, web: str) -> dict:
    tid, name = TEAMS[slug]
    return {
        "id": tid, "node_id": f"T_kwDO{tid}", "url": f"{api}/organizations/{OWNER_ID}/team/{tid}",
        "html_url": f"{web}/orgs/{OWNER}/teams/{slug}", "name": name, "slug": slug,
        "description": f"The {name} team", "privacy": "closed",
        "notification_setting": "notifications_enabled", "permission": "pull",
        "permissions": {"pull": True, "triage": False, "push": False, "maintain": False,
                        "admin": False},
        "members_url": f"{api}/organizations/{OWNER_ID}/team/{tid}/members{{/member}}",
        "repositories_url": f"{api}/organizations/{OWNER_ID}/team/{tid}/repos",
        "parent": None,
    }


_LABEL_COLOURS = {"bug": "d73a4a", "enhancement": "a2eeef", "docs": "0075ca"}


def label_json(name: str, api: str, repo: str) -> dict:
    lid = 9500 + sum(map(ord, name))
    return {"id": lid, "node_id": f"LA_kwDO{lid}", "url": f"{api}/repos/{repo}/labels/{name}",
            "name": name, "description": None, "color": _LABEL_COLOURS.get(name, "ededed"),
            "default": name in _LABEL_COLOURS}


def issue_json(issue: IssueFixture, repo: str, as_of: datetime, api: str, web: str) -> dict:
    base = f"{api}/repos/{repo}/issues/{issue.number}"
    ago = lambda days: iso(as_of - timedelta(days=days))  # noqa: E731
    closed = ago(issue.closed_days_ago) if issue.closed_days_ago is not None else None
    out = {
        "id": 9600000 + issue.number * 31 + len(repo), "node_id": f"I_kwDO{issue.number}",
        "url": base, "repository_url": f"{api}/repos/{repo}",
        "labels_url": f"{base}/labels{{/name}}", "comments_url": f"{base}/comments",
        "events_url": f"{base}/events",
        "html_url": f"{web}/{repo}/{'pull' if issue.pull else 'issues'}/{issue.number}",
        "number": issue.number, "state": "closed" if closed else "open",
        "state_reason": issue.state_reason, "title": issue.title, "body": issue.body,
        "user": simple_user(issue.author, USERS[issue.author], api, web),
        "labels": [label_json(n, api, repo) for n in issue.labels],
        "assignee": None, "assignees": [], "milestone": None, "locked": False,
        "active_lock_reason": None, "comments": len(issue.comments),
        "closed_at": closed, "created_at": ago(issue.created_days_ago),
        "updated_at": ago(issue.updated_days_ago), "closed_by": None,
        "author_association": "MEMBER", "draft": False if issue.pull else None,
        "reactions": {"url": f"{base}/reactions", "total_count": 0, "+1": 0, "-1": 0,
                      "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0,
                      "eyes": 0},
        "timeline_url": f"{base}/timeline", "performed_via_github_app": None,
    }
    if issue.pull:
        pulls = f"{api}/repos/{repo}/pulls/{issue.number}"
        out["pull_request"] = {"url": pulls, "html_url": out["html_url"],
                               "diff_url": f"{out['html_url']}.diff",
                               "patch_url": f"{out['html_url']}.patch",
                               "merged_at": closed if issue.merged else None}
    else:
        out.pop("draft")
    return out


def issue_comment_json(cid: int, issue: IssueFixture, who: str, days: float, body: str,
                       repo: str, as_of: datetime, api: str, web: str) -> dict:
    when = iso(as_of - timedelta(days=days))
    kind = "pull" if issue.pull else "issues"
    return {
        "id": cid, "node_id": f"IC_kwDO{cid}",
        "url": f"{api}/repos/{repo}/issues/comments/{cid}",
        "html_url": f"{web}/{repo}/{kind}/{issue.number}#issuecomment-{cid}", "body": body,
        "user": simple_user(who, USERS[who], api, web), "created_at": when,
        "updated_at": when, "issue_url": f"{api}/repos/{repo}/issues/{issue.number}",
        "author_association": "MEMBER", "performed_via_github_app": None,
        "reactions": {"url": f"{api}/repos/{repo}/issues/comments/{cid}/reactions",
                      "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                      "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
    }


def review_comment_json(cid: int, issue: IssueFixture, who: str, days: float, path: str,
                        line: int, body: str, repo: str, as_of: datetime, api: str,
                        web: str) -> dict:
    when = iso(as_of - timedelta(days=days))
    pulls = f"{api}/repos/{repo}/pulls"
    return {
        "url": f"{pulls}/comments/{cid}", "pull_request_review_id": cid + 1000,
        "id": cid, "node_id": f"PRRC_kwDO{cid}",
        "diff_hunk": "@@ -1,5 +1,5 @@\n-BURST_LIMIT_RPS = 120\n+BURST_LIMIT_RPS = 240",
        "path": path, "position": line, "original_position": line,
        "commit_id": "0" * 40, "original_commit_id": "0" * 40,
        "in_reply_to_id": None, "user": simple_user(who, USERS[who], api, web), "body": body,
        "created_at": when, "updated_at": when,
        "html_url": f"{web}/{repo}/pull/{issue.number}#discussion_r{cid}",
        "pull_request_url": f"{pulls}/{issue.number}", "author_association": "MEMBER",
        "_links": {"self": {"href": f"{pulls}/comments/{cid}"},
                   "html": {"href": f"{web}/{repo}/pull/{issue.number}#discussion_r{cid}"},
                   "pull_request": {"href": f"{pulls}/{issue.number}"}},
        "start_line": None, "original_start_line": None, "start_side": None,
        "line": line, "original_line": line, "side": "RIGHT", "subject_type": "line",
        "reactions": {"url": f"{pulls}/comments/{cid}/reactions", "total_count": 0, "+1": 0,
                      "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0,
                      "rocket": 0, "eyes": 0},
    }
