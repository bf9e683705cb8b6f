"""Ingest a github source: list the repositories, then each one as a source of its own.

Per repository, in order: its teams (when kc.yaml maps teams), its groups (fail closed), a
clone or fetch with the token, its files and history as a ``git`` source reads them, its
issues and pull requests since the last run, CODEOWNERS; then one transaction writes the
documents with the GitHub state that produced them. One repository's failure becomes a row in
raw.ingest_failures and the others go on; a bad token or a missing owner stops the source.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion import git_reader, ids
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.git_reader import GitError
from ingestion.github import codeowners, items
from ingestion.github.access import NoReadableGroup, repo_groups
from ingestion.github.client import GitHubClient
from ingestion.github.clone import clone_or_fetch
from ingestion.github.config import GitHubSpec
from ingestion.github.errors import (
    GitHubAuthError,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    GitHubRateLimited,
    MissingToken,
)
from ingestion.github.state import (
    items_path,
    load_cache,
    load_items,
    load_watermarks,
    replace_rows,
    save_cache,
    save_items,
    save_repo,
)
from ingestion.globs import matches
from ingestion.parsing import ParserWorker
from ingestion.pipeline import IngestReport, Progress, ingest_source
from ingestion.sources import Candidate, Listing, Rejected, list_git
from ingestion.warehouse import transaction

log = logging.getLogger(__name__)

ClientFactory = Callable[[GitHubSpec, str, dict], GitHubClient]


def repo_source_id(source: str, repo: str) -> str:
    """``<source>--<repo>``: a kc identifier (lower-case, at most 63 characters)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", repo.lower()).strip("-") or "repo"
    out = f"{source}--{slug}"
    if len(out) > 63 or slug != repo.lower():  # keep distinct names distinct
        digest = ids.content_hash(repo.encode())[:8]
        out = f"{source}--{slug[:63 - len(source) - 11]}-{digest}"
    return out


def token_for(spec: GitHubSpec, source: str) -> str:
    token = os.environ.get(spec.token_env, "").strip()
    if not token:
        raise MissingToken(f"source {source!r}: the environment variable {spec.token_env} "
                           "(github.token_env) is not set; export a GitHub token that can read "
                           f"{spec.owner}'s repositories")
    return token


def default_client(spec: GitHubSpec, token: str, cache: dict) -> GitHubClient:
    return GitHubClient(spec.api_url, token, cache=cache, timeout_s=spec.timeout_s,
                        max_retries=spec.max_retries, max_wait_s=spec.max_wait_s)


def ingest_github(con: duckdb.DuckDBPyConnection, spec: SourceSpec, cfg: IngestionConfig, *,
                  home: Path, worker: ParserWorker, now: datetime | None = None,
                  progress: Callable[[str], Progress] | None = None,
                  client_factory: ClientFactory = default_client) -> list[IngestReport]:
    """One report per repository ingested (a failed repository's is in raw.ingest_failures)."""
    assert spec.github is not None
    gh = spec.github
    now = now or datetime.now(UTC)
    token = token_for(gh, spec.name)
    cache = load_cache(con, spec.name)
    known_repos = [r[0] for r in con.execute(
        "select repo_source_id from raw.github_repos where source_id = ?",
        [spec.name]).fetchall()]
    for (repo_id,) in con.execute(  # a refused repository keeps ETags without a repos row
            "select distinct source_id from raw.github_http_cache where starts_with("
            "source_id, ?)", [f"{spec.name}--"]).fetchall():
        cache.update(load_cache(con, repo_id))
    reports: list[IngestReport] = []
    with client_factory(gh, token, cache) as client:
        repos = _list_repos(client, gh)
        owner_used = dict(client.used)
        chosen = [r for r in repos if _wanted(r, gh)]
        log.info("%s: %d of %d repositories of %s selected", spec.name, len(chosen),
                 len(repos), gh.owner)
        listed = set()
        for i, repo in enumerate(chosen, 1):
            repo_id = repo_source_id(spec.name, repo["name"])
            listed.add(repo_id)
            if progress:
                progress(spec.name)(i, len(chosen), repo["full_name"])
            client.used = {}
            try:
                reports.append(_ingest_repo(con, spec, repo, repo_id, cfg, client, token,
                                            home=home, worker=worker, now=now,
                                            progress=progress(repo_id) if progress else None))
            except (GitHubAuthError, GitHubRateLimited):
                raise  # every further request would fail the same way
            except NoReadableGroup as exc:
                # Its teams' ETags are kept: an unchanged refusal costs no rate limit next time.
                _retire(con, repo_id, now, keep_cache=dict(client.used))
                _record_failure(con, spec, repo, repo_id, exc, now)
            except (GitHubError, GitError, OSError, ValueError) as exc:
                log.warning("%s: %s failed: %s", spec.name, repo["full_name"], exc)
                _record_failure(con, spec, repo, repo_id, exc, now)
        for repo_id in known_repos:
            if repo_id not in listed:
                _retire(con, repo_id, now)
        with transaction(con):
            save_cache(con, spec.name, owner_used)
    return reports


def _list_repos(client: GitHubClient, gh: GitHubSpec) -> list[dict]:
    kind = "orgs" if gh.owner_type == "org" else "users"
    path = f"/{kind}/{gh.owner}/repos"
    try:
        return client.get_all(path, {"type": "all" if kind == "orgs" else "owner",
                                     "sort": "full_name", "per_page": gh.per_page})
    except GitHubNotFound as exc:
        hint = ("for a user account set github.owner_type: user" if kind == "orgs"
                else "for an organisation set github.owner_type: org")
        raise GitHubNotFound(
            f"{gh.owner!r} was not found at {gh.api_url} ({exc}); check github.owner "
            f"({hint}), github.api_url, and that the token may see it") from None


def _wanted(repo: dict, gh: GitHubSpec) -> bool:
    name = repo["name"]
    if repo.get("fork") and not gh.include_forks:
        return False
    if repo.get("archived") and not gh.include_archived:
        return False
    return matches(name, gh.repos) and not matches(name, gh.exclude_repos)


def _visibility(repo: dict) -> str:
    return repo.get("visibility") or ("private" if repo.get("private") else "public")


def _teams(client: GitHubClient, full_name: str) -> list[str] | None:
    try:
        return sorted(t["slug"] for t in client.get_all(f"/repos/{full_name}/teams",
                                                        {"per_page": 100}))
    except (GitHubForbidden, GitHubNotFound):
        return None  # the token may not read teams: only github.access.private applies


def _ingest_repo(con, spec: SourceSpec, repo: dict, repo_id: str, cfg: IngestionConfig,
                 client: GitHubClient, token: str, *, home: Path, worker: ParserWorker,
                 now: datetime, progress: Progress | None) -> IngestReport:
    gh = spec.github
    assert gh is not None
    full_name, visibility = repo["full_name"], _visibility(repo)
    teams = None
    if gh.access is not None and visibility != "public" and gh.access.teams:
        teams = _teams(client, full_name)
    groups = repo_groups(spec.acl_groups, gh.access, visibility, teams, full_name)
    # A tenant's adapter may be queried by every member of the tenant: content that only some
    # of the source's groups may read is retrieved (ACL-filtered), never compiled into weights.
    route = spec.route or (None if set(groups) == set(spec.acl_groups) else "volatile")
    base = home / "github" / spec.name
    mirror = clone_or_fetch(repo["clone_url"], base / f"{repo['name']}.git", token)
    branch = repo.get("default_branch") or "HEAD"
    git_spec = SourceSpec(name=repo_id, type="git", tenant=spec.tenant, acl_groups=groups,
                          path=mirror, ref=branch, include=spec.include, exclude=spec.exclude)
    try:
        listing = list_git(git_spec, cfg, home)
    except GitError as exc:
        if "unknown revision" not in str(exc) and "Needed a single revision" not in str(exc):
            raise
        listing = Listing()  # an empty repository: no branch yet, its issues still count
    store = items_path(home, spec.name, repo["name"])
    stored = load_items(store)
    marks = load_watermarks(con, repo_id) if stored is not None else items.Watermarks()
    current = stored or {}
    if gh.issues or gh.pulls:
        current, marks = _fetch_items(client, full_name, current, marks, gh.per_page)
        save_items(store, current)
    wanted = {k: v for k, v in current.items()
              if (v["kind"] == "pull" and gh.pulls) or (v["kind"] == "issue" and gh.issues)}
    _add_items(listing, wanted, full_name)
    owner_rows = _owners(mirror, listing, repo_id)
    item_rows = [_item_row(repo_id, item) for item in wanted.values()]
    repo_spec = SourceSpec(name=repo_id, type="github", tenant=spec.tenant, acl_groups=groups,
                           url=repo.get("html_url") or f"{gh.api_url}/repos/{full_name}",
                           ref=branch, include=spec.include, exclude=spec.exclude, route=route)
    used = dict(client.used)

    def write_state(con: duckdb.DuckDBPyConnection) -> None:
        save_repo(con, (repo_id, spec.name, full_name, visibility, teams, list(groups),
                        repo.get("default_branch"), repo_spec.url, marks.issues,
                        marks.comments, marks.review_comments))
        replace_rows(con, "github_items", repo_id, item_rows, key=3)
        replace_rows(con, "document_owners", repo_id, owner_rows, key=0)
        save_cache(con, repo_id, used)

    report = ingest_source(con, repo_spec, cfg, home=home, worker=worker, now=now,
                           progress=progress, listing=listing, after_write=write_state)
    log.info("%s: %s: %d files, %d issues and pull requests, %d new documents, %d changed",
             spec.name, full_name, len(listing.candidates) - len(wanted), len(wanted),
             report.new_documents, report.changed_documents)
    return report


def _fetch_items(client: GitHubClient, full_name: str, current: dict[int, dict],
                 marks: items.Watermarks, per_page: int) -> tuple[dict[int, dict],
                                                                  items.Watermarks]:
    base = f"/repos/{full_name}"
    current = {k: dict(v) for k, v in current.items()}
    issues, issues_mark = _changes(client, f"{base}/issues", {"state": "all"}, marks.issues,
                                   per_page)
    for issue in issues:
        current[issue["number"]] = items.merge_issue(current.get(issue["number"]), issue)
    comments, comments_mark = _changes(client, f"{base}/issues/comments", {}, marks.comments,
                                       per_page)
    for comment in comments:
        number = items.comment_number(comment, "issue_url")
        if number in current:
            items.add_comment(current[number], comment)
    reviews, reviews_mark = _changes(client, f"{base}/pulls/comments", {},
                                     marks.review_comments, per_page)
    for comment in reviews:
        number = items.comment_number(comment, "pull_request_url")
        if number in current:
            items.add_review_comment(current[number], comment)
    return current, items.Watermarks(issues_mark, comments_mark, reviews_mark)


def _changes(client: GitHubClient, path: str, params: dict, since: str | None,
             per_page: int) -> tuple[list[dict], str | None]:
    """Entries updated since the watermark, and the new watermark.

    When the watermark moves, the next run's query (``since=`` the new one) is asked once
    now, so its ETag is known: a next run with nothing changed then costs only a 304."""
    query = {**params, "sort": "updated", "direction": "desc", "per_page": per_page}
    entries = client.get_changes(path, {**query, "since": since})
    if entries is None:
        return [], since
    mark = items.newest([e.get("updated_at") for e in entries], since)
    if mark != since:
        entries += client.get_changes(path, {**query, "since": mark}) or []
        client.used.pop(client.url(path, {**query, "since": since}), None)  # never asked again
    return entries, mark


def _add_items(listing: Listing, wanted: dict[int, dict], full_name: str) -> None:
    taken = {c.path for c in listing.candidates}
    for number in sorted(wanted):
        item = wanted[number]
        path = items.item_path(item)
        if path in taken:
            listing.rejected.append(Rejected(path, "an issue's document path collides with a "
                                             "file of the repository", "UnsafePath"))
            continue
        data = items.render(item, full_name).encode()
        listing.candidates.append(Candidate(path, "md", items.parse_time(item["updated_at"]),
                                            (lambda d=data: d), len(data)))


def _item_row(repo_id: str, item: dict) -> tuple:
    path = items.item_path(item)
    return (repo_id, item["number"], item["kind"], ids.document_id(repo_id, path), path,
            item["state"], list(item["labels"]), items.parse_time(item["updated_at"]),
            _time(item.get("closed_at")), _time(item.get("merged_at")), item["html_url"])


def _time(value: str | None) -> datetime | None:
    return items.parse_time(value) if value else None


def _owners(mirror: Path, listing: Listing, repo_id: str) -> list[tuple]:
    if listing.head_commit is None:
        return []
    tree = {e.path: e for e in git_reader.list_tree(mirror, listing.head_commit)}
    location = next((p for p in codeowners.LOCATIONS if p in tree), None)
    if location is None:
        return []
    (_, data), = git_reader.read_blobs(mirror, [tree[location].blob_sha])
    rules = codeowners.parse(data.decode("utf-8", "replace"))
    rows = []
    for candidate in listing.candidates:
        if candidate.path.startswith("_github/"):
            continue
        owners, rule = codeowners.owners_of(candidate.path, rules)
        rows.append((ids.document_id(repo_id, candidate.path), repo_id, candidate.path,
                     list(owners), rule))
    return rows


def _record_failure(con, spec: SourceSpec, repo: dict, repo_id: str, exc: Exception,
                    now: datetime) -> None:
    """A failure row under the repository's source id. A repository never ingested gets a
    raw.sources row with no groups (readable by nobody, holding no documents), so the failure
    belongs to a known source as every failure does."""
    full_name = repo["full_name"]
    reason, kind = str(exc)[:1000], type(exc).__name__
    before = con.execute("select reason, exception_class from raw.ingest_failures where "
                         "source_id = ? and path = ?", [repo_id, full_name]).fetchone()
    if before == (reason, kind):
        return  # the same failure as last time: keep when it was first observed
    known = con.execute("select count(*) from raw.sources where source_id = ?",
                        [repo_id]).fetchone()[0]
    with transaction(con):
        if not known:
            con.execute("insert into raw.sources values (?, 'github', ?, ?, [], ?, null, "
                        "'not-ingested', ?)", [repo_id, repo.get("html_url") or full_name,
                                               spec.tenant, spec.route, now])
        con.execute("delete from raw.ingest_failures where source_id = ? and path = ?",
                    [repo_id, full_name])
        con.execute("insert into raw.ingest_failures values (?, ?, null, ?, ?, ?)",
                    [repo_id, full_name, reason, kind, now])


def _retire(con, repo_id: str, now: datetime, keep_cache: dict | None = None) -> None:
    """A repository no longer listed, or no longer readable by any group: its documents are
    deleted (and so leave the index) and its state is forgotten."""
    live = con.execute("select count(*) from raw.documents where source_id = ? and not "
                       "is_deleted", [repo_id]).fetchone()[0]
    state = con.execute("select count(*) from raw.github_repos where repo_source_id = ?",
                        [repo_id]).fetchone()[0]
    if not live and not state:
        if keep_cache is not None:
            with transaction(con):
                save_cache(con, repo_id, keep_cache)
        return
    with transaction(con):
        con.execute("delete from raw.chunks where document_id in (select document_id from "
                    "raw.documents where source_id = ?)", [repo_id])
        con.execute("update raw.documents set is_deleted = true, deleted_at = ?, "
                    "current_content_hash = null where source_id = ? and not is_deleted",
                    [now, repo_id])
        for table in ("sources", "ingest_failures", "github_items", "document_owners",
                      "github_http_cache"):
            con.execute(f"delete from raw.{table} where source_id = ?", [repo_id])
        con.execute("delete from raw.github_repos where repo_source_id = ?", [repo_id])
        if keep_cache is not None:
            save_cache(con, repo_id, keep_cache)

