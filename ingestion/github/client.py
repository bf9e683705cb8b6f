"""A small, polite GitHub REST client: conditional requests, Link pagination, rate limits.

Hand-written over httpx because the ingest depends on what the well-kept clients do not expose
together: an ETag cache that outlives the process (it is stored in the warehouse, in the same
transaction as the documents it produced) and a listing that is served whole from that cache
when GitHub answers 304 (a 304 to an authenticated request does not count against the rate
limit: docs.github.com, "Best practices for using the REST API").

Politeness, per GitHub's documented rules:
- primary limit: when ``X-RateLimit-Remaining`` is 0, wait until ``X-RateLimit-Reset``;
- secondary limit: a 403/429 with ``Retry-After`` waits that many seconds; one without it
  waits at least a minute, growing exponentially;
- 5xx and timeouts are retried with exponential backoff; 401, 404 and other 4xx are not.
Every wait goes through the injected ``sleep`` so tests run in milliseconds.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from ingestion.github.errors import (
    GitHubAuthError,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    GitHubRateLimited,
)

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')


@dataclass(frozen=True)
class CachedResponse:
    """What a conditional request needs, and what a 304 stands for."""

    etag: str
    body: str  # the JSON text of the 200 response
    link: str | None = None  # its Link header (pagination)


@dataclass
class RequestStats:
    requests: int = 0
    conditional: int = 0  # sent with If-None-Match
    not_modified: int = 0  # answered 304
    retries: int = 0
    waited_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


def next_link(link: str | None) -> str | None:
    """The ``rel="next"`` URL of a Link header, if any."""
    for url, rel in _LINK.findall(link or ""):
        if rel == "next":
            return url
    return None


class GitHubClient:
    """GET-only access to the REST API with an ETag cache.

    ``cache`` maps absolute URLs to their last 200; ``used`` collects the entries this client
    needed (to be stored for the next run), so the stored cache never grows with stale URLs.
    """

    def __init__(self, api_url: str, token: str, *, cache: dict[str, CachedResponse] | None = None,
                 timeout_s: float = 30.0, max_retries: int = 5, max_wait_s: float = 900.0,
                 backoff_s: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.cache = dict(cache or {})
        self.used: dict[str, CachedResponse] = {}
        self.stats = RequestStats()
        self._max_retries = max_retries
        self._max_wait_s = max_wait_s
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._clock = clock
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._http = httpx.Client(
            timeout=timeout_s, transport=transport, follow_redirects=True,
            headers={"Authorization": f"Bearer {token}",
                     "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION,
                     "User-Agent": "knowledge-compiler"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str, params: dict[str, object] | None = None) -> str:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return f"{self.api_url}{path}" + (f"?{urlencode(query)}" if query else "")

    # ------------------------------------------------------------------ public calls
    def get(self, path: str, params: dict[str, object] | None = None) -> object:
        """One JSON document (from the cache when GitHub says it has not changed)."""
        body, _ = self._get(self.url(path, params))
        return json.loads(body)

    def get_all(self, path: str, params: dict[str, object] | None = None) -> list:
        """Every page of a listing, following ``Link: rel="next"``; pages GitHub says are
        unchanged come from the cache."""
        url: str | None = self.url(path, params)
        items: list = []
        seen: set[str] = set()
        while url is not None:
            if url in seen:  # a server that links a page to itself must not loop us forever
                raise GitHubError(f"pagination loops at {url}")
            seen.add(url)
            body, link = self._get(url)
            items.extend(_page(body, url))
            url = next_link(link)
        return items

    def get_changes(self, path: str, params: dict[str, object]) -> list | None:
        """A listing sorted newest first (``direction=desc``), or None when its first page is
        unchanged: then nothing in it changed, as any change would come first. Only the first
        page's ETag is kept, without its body (the caller keeps what it needs)."""
        if params.get("direction") != "desc":
            raise ValueError("get_changes needs a listing sorted newest first (direction=desc)")
        url: str | None = self.url(path, params)
        first = url
        items: list = []
        while url is not None:
            body, link = self._get(url, keep_body=False, conditional=url == first)
            if body is None:
                return None
            items.extend(_page(body, url))
            url = next_link(link)
            if url == first:
                raise GitHubError(f"pagination loops at {url}")
        return items

    # ------------------------------------------------------------------ transport
    def _get(self, url: str, *, keep_body: bool = True,
             conditional: bool = True) -> tuple[str | None, str | None]:
        cached = self.cache.get(url) if conditional else None
        headers = {"If-None-Match": cached.etag} if cached else {}
        response = self._send(url, headers)
        if response.status_code == 304 and cached is not None:
            self.stats.not_modified += 1
            self.used[url] = cached
            return (cached.body if keep_body else None), cached.link
        if response.status_code == 304:
            raise GitHubError(f"GitHub answered 304 to an unconditional request for {url}")
        body = response.text
        etag = response.headers.get("ETag")
        link = response.headers.get("Link")
        if etag and conditional:
            self.used[url] = CachedResponse(etag, body if keep_body else "", link)
        return body, link

    def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        attempt = 0
        while True:
            self._wait_for_primary_reset()
            self.stats.requests += 1
            if headers:
                self.stats.conditional += 1
            try:
                response = self._http.get(url, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                attempt = self._retry(attempt, url, f"{type(exc).__name__}: {exc}",
                                      self._backoff(attempt))
                continue
            self.stats.statuses[response.status_code] = (
                self.stats.statuses.get(response.status_code, 0) + 1)
            self._note_rate_limit(response)
            status = response.status_code
            if status in (200, 304):
                return response
            if status == 401:
                raise GitHubAuthError(
                    f"GitHub rejected the token (401 {_message(response)}) at {url}: the token "
                    "is wrong, expired or revoked; create one that can read the repositories "
                    "and export it in the variable named by github.token_env")
            if status in (403, 429):
                wait = self._rate_limit_wait(response, attempt)
                if wait is None:
                    raise GitHubForbidden(
                        f"GitHub refused {url} (403 {_message(response)}): the token lacks the "
                        "permission (a fine-grained token needs read access to contents, "
                        "issues, pull requests and metadata)")
                attempt = self._retry(attempt, url, f"rate limited ({status})", wait)
                continue
            if status == 404:
                raise GitHubNotFound(f"not found (404) at {url}")
            if status >= 500:
                attempt = self._retry(attempt, url, f"server error {status}",
                                      self._backoff(attempt))
                continue
            raise GitHubError(f"GitHub answered {status} {_message(response)} at {url}")

    def _retry(self, attempt: int, url: str, why: str, wait: float) -> int:
        if attempt >= self._max_retries:
            raise GitHubError(f"giving up on {url} after {attempt + 1} tries: {why}")
        if wait > self._max_wait_s:
            raise GitHubRateLimited(
                f"{url}: {why}; GitHub asks for a wait of {wait:.0f} s, over the "
                f"{self._max_wait_s:.0f} s this run allows; run again later")
        log.info("GitHub %s: %s; retrying in %.1f s", url, why, wait)
        self.stats.retries += 1
        self._pause(wait)
        return attempt + 1

    def _backoff(self, attempt: int) -> float:
        return min(self._backoff_s * 2 ** attempt, 60.0)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_s += seconds
            self._sleep(seconds)

    def _note_rate_limit(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is not None and remaining.isdigit():
            self._remaining = int(remaining)
        if reset is not None and reset.isdigit():
            self._reset_at = float(reset)

    def _wait_for_primary_reset(self) -> None:
        """Do not spend a request we know will be refused: wait for the window to reset."""
        if self._remaining != 0 or self._reset_at is None:
            return
        wait = self._reset_at - self._clock() + 1
        if wait > self._max_wait_s:
            raise GitHubRateLimited(
                f"the GitHub rate limit is spent until {time.ctime(self._reset_at)} "
                f"({wait:.0f} s, over the {self._max_wait_s:.0f} s this run allows); run again "
                "later or use a token with a larger limit")
        self._pause(wait)
        self._remaining = None

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying a 403/429, or None if it is not a rate limit."""
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if response.headers.get("X-RateLimit-Remaining") == "0":
            reset = response.headers.get("X-RateLimit-Reset")
            if reset and reset.isdigit():
                self._remaining = None  # the wait below is this one; do not wait twice
                return max(float(reset) - self._clock() + 1, 0.0)
        if response.status_code == 429 or "rate limit" in _message(response).lower():
            return max(60.0, self._backoff(attempt))  # secondary limit without Retry-After
        return None


def _page(body: str, url: str) -> list:
    try:
        page = json.loads(body)
    except ValueError as exc:
        raise GitHubError(f"{url} did not answer JSON: {exc}") from None
    if not isinstance(page, list):
        raise GitHubError(f"expected a JSON list from {url}, got {type(page).__name__}")
    return page


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    return str(data.get("message", response.reason_phrase)) if isinstance(data, dict) else ""
