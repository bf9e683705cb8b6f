"""What a github source remembers between runs.

In the warehouse (written in the repository's own transaction): ETags, watermarks, item and
owner metadata. Under ``$KC_HOME/github/<source>/`` (beside the clones, which hold the same
kind of unscrubbed material): the issues and pull requests as GitHub returned them, merged
run after run, because an incremental listing only returns what changed. That file is
written *before* the warehouse transaction, so it is never older than the ETags and
watermarks that say what it holds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb

from ingestion.github.client import CachedResponse
from ingestion.github.items import Watermarks


def load_cache(con: duckdb.DuckDBPyConnection, source_id: str) -> dict[str, CachedResponse]:
    return {url: CachedResponse(etag, body, link) for url, etag, link, body in con.execute(
        "select url, etag, link, body from raw.github_http_cache where source_id = ?",
        [source_id]).fetchall()}


def save_cache(con: duckdb.DuckDBPyConnection, source_id: str,
               used: dict[str, CachedResponse]) -> bool:
    """Replace the source's cache with the entries this run used; False if nothing changed."""
    if load_cache(con, source_id) == used:
        return False
    con.execute("delete from raw.github_http_cache where source_id = ?", [source_id])
    if used:
        con.executemany("insert into raw.github_http_cache values (?, ?, ?, ?, ?)",
                        [(source_id, url, c.etag, c.link, c.body) for url, c in used.items()])
    return True


def load_watermarks(con: duckdb.DuckDBPyConnection, repo_source_id: str) -> Watermarks:
    row = con.execute("select issues_since, comments_since, review_comments_since "
                      "from raw.github_repos where repo_source_id = ?",
                      [repo_source_id]).fetchone()
    return Watermarks(*row) if row else Watermarks()


def save_repo(con: duckdb.DuckDBPyConnection, row: tuple) -> None:
    """One raw.github_repos row, rewritten only when a value changed."""
    current = con.execute("select * from raw.github_repos where repo_source_id = ?",
                          [row[0]]).fetchone()
    if current is not None and _same(current, row):
        return
    con.execute("delete from raw.github_repos where repo_source_id = ?", [row[0]])
    con.execute("insert into raw.github_repos values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                list(row))


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, source_id: str,
                 rows: list[tuple], key: int) -> int:
    """Make ``table``'s rows of ``source_id`` exactly ``rows``, touching only differences."""
    width = len(rows[0]) if rows else 0
    current = {r[key]: r for r in con.execute(
        f"select * from raw.{table} where source_id = ?", [source_id]).fetchall()}
    wanted = {r[key]: r for r in rows}
    stale = [k for k, r in current.items() if k not in wanted or not _same(r, wanted[k])]
    fresh = [r for k, r in wanted.items() if k not in current or not _same(current[k], r)]
    column = {"github_items": "document_id", "document_owners": "document_id"}[table]
    for k in stale:
        value = current[k][key]
        con.execute(f"delete from raw.{table} where source_id = ? and {column} = ?",
                    [source_id, value])
    if fresh:
        marks = ", ".join("?" * width)
        con.executemany(f"insert into raw.{table} values ({marks})", [list(r) for r in fresh])
    return len(fresh)


def _same(a: tuple, b: tuple) -> bool:
    def norm(v: object) -> object:
        if isinstance(v, list | tuple):
            return tuple(v)
        if hasattr(v, "isoformat"):
            return v.isoformat() if getattr(v, "tzinfo", None) is None else v.timestamp()
        return v
    return len(a) == len(b) and all(norm(x) == norm(y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------- the item store
def items_path(home: Path, source: str, repo: str) -> Path:
    return home / "github" / source / f"{repo}.items.json"


def load_items(path: Path) -> dict[int, dict] | None:
    """The stored items, or None when there is no store (then everything is read again)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a damaged store is rebuilt from GitHub, not trusted
    return {int(k): v for k, v in data.items()}


def save_items(path: Path, items: dict[int, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({str(k): items[k] for k in sorted(items)}, sort_keys=True, indent=1)
    if path.exists() and path.read_text() == text:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".items-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
