"""A local GitHub stand-in: the REST endpoints the ingest uses, and git over smart HTTP.

Served on 127.0.0.1 (port 0 picks a free one), for the tests and the demo:

- ``GET /api/v3/orgs/{org}/repos``, ``/users/{user}/repos`` (404 for an unknown owner)
- ``GET /api/v3/repos/{owner}/{repo}/teams``
- ``GET /api/v3/repos/{owner}/{repo}/issues`` (pull requests included, as on GitHub),
  ``/issues/comments``, ``/pulls/comments``: ``since``, ``sort=updated|created``,
  ``direction``, ``per_page``, ``page``
- every listing paginated with a ``Link`` header, every response with an ``ETag``; a matching
  ``If-None-Match`` gets 304, which (as on GitHub) does not spend the rate limit
- ``X-RateLimit-Limit / -Remaining / -Reset / -Used / -Resource`` on every response
- 401 ``Bad credentials`` for a wrong token; scripted faults (``fail(...)``) for 403, 429
  with ``Retry-After``, 5xx
- ``/git/{owner}/{repo}.git``: git's smart-HTTP protocol through ``git http-backend``, behind
  HTTP Basic auth with ``x-access-token:<token>`` as GitHub's git endpoint takes it.

Response bodies come from ``examples.github_org.fixtures``, written from GitHub's published
REST schema. ``log`` records every request (method, path with query, status, conditional).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from examples.github_org import fixtures
from examples.github_org.build import build_repositories


@dataclass
class Fault:
    pattern: str  # a regex searched in the request path (with its query)
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    body: dict = field(default_factory=lambda: {"message": "stand-in fault"})


@dataclass
class Logged:
    method: str
    path: str
    status: int
    conditional: bool


class GitHubStandIn:
    """Start with ``with GitHubStandIn(root, token=...) as gh:``; ``gh.api_url`` is the base."""

    def __init__(self, root: Path, *, token: str = "stand-in-token", as_of: datetime | None = None,
                 port: int = 0, per_page_max: int = 100) -> None:
        self.root = Path(root)
        self.token = token
        self.as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
        self.per_page_max = per_page_max
        self.log: list[Logged] = []
        self.faults: list[Fault] = []
        self.forbidden_teams: set[str] = set()  # repos whose teams answer 403
        self.rate_limit = 5000
        self.remaining = 5000
        self.reset_at = int(self.as_of.timestamp()) + 3600
        self.repos = fixtures.repositories(self.as_of)
        build_repositories(self.root / "git", self.repos)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        host, bound = self._server.server_address[:2]
        self.base = f"http://{host}:{bound}"
        self.api_url = f"{self.base}/api/v3"
        self.web_url = f"{self.base}/web"
        self.git_url = f"{self.base}/git"
        self._thread: threading.Thread | None = None
        self._added = 0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> GitHubStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ scripting
    def fail(self, pattern: str, status: int, *, times: int = 1,
             headers: dict[str, str] | None = None, message: str = "stand-in fault") -> None:
        self.faults.append(Fault(pattern, status, headers or {}, times, {"message": message}))

    def repo(self, name: str) -> fixtures.RepoFixture:
        return next(r for r in self.repos if r.name == name)

    def add_comment(self, repo: str, number: int, who: str, body: str) -> None:
        """A new comment, a second after anything before it: the issue's updated_at moves
        with it, as on GitHub."""
        self._added += 1
        days = -self._added / 86400  # "days ago" relative to as_of: in as_of's future
        issue = next(i for i in self.repo(repo).issues if i.number == number)
        issue.comments.append((who, days, body))
        issue.updated_days_ago = days

    def requests(self, prefix: str = "/api/") -> list[Logged]:
        return [entry for entry in self.log if entry.path.startswith(prefix)]

    # ------------------------------------------------------------------ REST bodies
    def _repos_json(self) -> list[dict]:
        return [fixtures.repo_json(r, self.as_of, self.api_url, self.web_url, self.git_url)
                for r in sorted(self.repos, key=lambda r: r.name)]

    def _issues(self, repo: fixtures.RepoFixture) -> list[dict]:
        full = f"{fixtures.OWNER}/{repo.name}"
        return [fixtures.issue_json(i, full, self.as_of, self.api_url, self.web_url)
                for i in repo.issues]

    def _comments(self, repo: fixtures.RepoFixture) -> list[dict]:
        full = f"{fixtures.OWNER}/{repo.name}"
        out = []
        for issue in repo.issues:
            for k, (who, days, body) in enumerate(issue.comments):
                cid = 9800000 + issue.number * 100 + k + len(repo.name) * 10000
                out.append(fixtures.issue_comment_json(cid, issue, who, days, body, full,
                                                       self.as_of, self.api_url, self.web_url))
        return out

    def _review_comments(self, repo: fixtures.RepoFixture) -> list[dict]:
        full = f"{fixtures.OWNER}/{repo.name}"
        out = []
        for issue in repo.issues:
            for k, (who, days, path, line, body) in enumerate(issue.reviews):
                cid = 9900000 + issue.number * 100 + k + len(repo.name) * 10000
                out.append(fixtures.review_comment_json(cid, issue, who, days, path, line,
                                                        body, full, self.as_of, self.api_url,
                                                        self.web_url))
        return out

    def route(self, path: str, query: dict[str, str]) -> tuple[int, object]:
        """(status, body) of a REST GET; lists are paginated by the handler."""
        parts = path.strip("/").split("/")
        if parts[:1] in (["orgs"], ["users"]) and len(parts) == 3 and parts[2] == "repos":
            if parts[1] != fixtures.OWNER:
                return 404, _not_found()
            return 200, self._repos_json()
        if parts[:1] == ["repos"] and len(parts) >= 4 and parts[1] == fixtures.OWNER:
            repo = next((r for r in self.repos if r.name == parts[2]), None)
            if repo is None:
                return 404, _not_found()
            rest = parts[3:]
            if rest == ["teams"]:
                if repo.name in self.forbidden_teams:
                    return 403, {"message": "Must have admin rights to Repository.",
                                 "documentation_url": "https://docs.github.com/rest"}
                return 200, [fixtures.team_json(t, self.api_url, self.web_url)
                             for t in repo.teams]
            listing = {("issues",): self._issues, ("issues", "comments"): self._comments,
                       ("pulls", "comments"): self._review_comments}.get(tuple(rest))
            if listing is not None:
                return 200, _filter(listing(repo), query, rest == ["issues"])
        return 404, _not_found()


def _not_found() -> dict:
    return {"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
            "status": "404"}


def _filter(entries: list[dict], query: dict[str, str], issues: bool) -> list[dict]:
    if issues:
        state = query.get("state", "open")
        if state != "all":
            entries = [e for e in entries if e["state"] == state]
    since = query.get("since")
    if since:
        entries = [e for e in entries if e["updated_at"] >= since]
    key = "created_at" if query.get("sort") == "created" else "updated_at"
    desc = query.get("direction", "desc" if issues else "asc") == "desc"
    return sorted(entries, key=lambda e: (e[key], e["id"]), reverse=desc)


def _etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'


def _handler(gh: GitHubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the tests read gh.log instead

        def _record(self, status: int) -> None:
            with gh._lock:
                gh.log.append(Logged(self.command, self.path, status,
                                     "If-None-Match" in self.headers))

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self._record(status)

        def _rate_headers(self, spend: bool) -> dict[str, str]:
            with gh._lock:
                if spend and gh.remaining > 0:
                    gh.remaining -= 1
                return {"X-RateLimit-Limit": str(gh.rate_limit),
                        "X-RateLimit-Remaining": str(gh.remaining),
                        "X-RateLimit-Reset": str(gh.reset_at),
                        "X-RateLimit-Used": str(gh.rate_limit - gh.remaining),
                        "X-RateLimit-Resource": "core"}

        def _json(self, status: int, data: object, extra: dict[str, str] | None = None,
                  spend: bool = True) -> None:
            body = json.dumps(data, indent=1).encode()
            headers = {"Content-Type": "application/json; charset=utf-8",
                       **self._rate_headers(spend), **(extra or {})}
            self._send(status, body, headers)

        def do_GET(self) -> None:
            if self.path.startswith("/git/"):
                self._git()
            elif self.path.startswith("/api/v3/"):
                self._api()
            else:
                self._json(404, _not_found())

        def do_POST(self) -> None:
            if self.path.startswith("/git/"):
                self._git()
            else:
                self._json(404, _not_found())

        # -------------------------------------------------------------- REST
        def _api(self) -> None:
            auth = self.headers.get("Authorization", "")
            if auth not in (f"Bearer {gh.token}", f"token {gh.token}"):
                self._json(401, {"message": "Bad credentials",
                                 "documentation_url": "https://docs.github.com/rest",
                                 "status": "401"})
                return
            for fault in gh.faults:
                if fault.times > 0 and re.search(fault.pattern, self.path):
                    fault.times -= 1
                    self._json(fault.status, fault.body, fault.headers)
                    return
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            status, data = gh.route(split.path[len("/api/v3"):], query)
            if status != 200 or not isinstance(data, list):
                self._json(status, data)
                return
            per_page = min(int(query.get("per_page", 30)), gh.per_page_max)
            page = max(int(query.get("page", 1)), 1)
            last = max((len(data) + per_page - 1) // per_page, 1)
            body = json.dumps(data[(page - 1) * per_page:page * per_page], indent=1).encode()
            headers = {"ETag": _etag(body), "Cache-Control": "private, max-age=60, s-maxage=60",
                       "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP"}
            links = []
            for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last),
                                ("first", 1)):
                if 1 <= number <= last and number != page:
                    url = f"{gh.api_url}{split.path[len('/api/v3'):]}?" + urlencode(
                        {**query, "page": number})
                    links.append(f'<{url}>; rel="{rel}"')
            if links:
                headers["Link"] = ", ".join(links)
            if self.headers.get("If-None-Match") == headers["ETag"]:
                self._send(304, b"", {**self._rate_headers(spend=False), **headers})
                return
            self._send(200, body, {"Content-Type": "application/json; charset=utf-8",
                                   **self._rate_headers(spend=True), **headers})

        # -------------------------------------------------------------- git smart HTTP
        def _git(self) -> None:
            expected = base64.b64encode(f"x-access-token:{gh.token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._send(401, b"Authentication required\n",
                           {"WWW-Authenticate": 'Basic realm="GitHub"',
                            "Content-Type": "text/plain"})
                return
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "GIT_PROJECT_ROOT": str(gh.root / "git"), "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": split.path[len("/git"):], "QUERY_STRING": split.query,
                   "REQUEST_METHOD": self.command, "REMOTE_ADDR": "127.0.0.1",
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(len(body)), "GIT_CONFIG_NOSYSTEM": "1",
                   "HOME": str(gh.root)}
            for header in ("Content-Encoding", "Git-Protocol"):
                if self.headers.get(header):
                    env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
            result = subprocess.run(["git", "http-backend"], input=body, env=env,
                                    capture_output=True, check=False, timeout=120)
            raw = result.stdout
            sep = raw.find(b"\r\n\r\n")
            head, payload = (raw[:sep], raw[sep + 4:]) if sep >= 0 else raw.split(b"\n\n", 1)
            status, headers = 200, {}
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers[key.strip()] = value.strip()
            self._send(status, payload, headers)

    return Handler
