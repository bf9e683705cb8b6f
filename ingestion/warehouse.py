"""The DuckDB warehouse: schema, connections and the single-writer rule.

DuckDB admits one writing process per file. A second writer gets a clear error naming the
holder instead of DuckDB's lock message, and connections are always closed (dbt cannot run
while a Python connection holds the file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

RAW_TABLES = ("sources", "documents", "document_versions", "chunks", "git_commits",
              "git_file_changes", "ingest_failures")


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse open for writing."""


def schema_sql() -> str:
    return resources.files("ingestion").joinpath("schema.sql").read_text()


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, creating the raw schema on first write; always closes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `kc run` first")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        holder = re.search(r"PID (\d+)", str(exc))
        who = f" (PID {holder.group(1)})" if holder else ""
        raise WarehouseLocked(
            f"the warehouse {path} is in use by another process{who}; wait for that run to "
            "finish (DuckDB allows one writer at a time) and try again") from exc
    try:
        if not read_only:
            con.execute(schema_sql())
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: a crash or error inside leaves the previous state intact."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}


def source_summary(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Per source: (source_id, type, tenant, live documents, chunks, ingest failures)."""
    return con.execute("""
        select s.source_id, s.source_type, s.tenant,
               count(distinct d.document_id) filter (where not d.is_deleted),
               (select count(*) from raw.chunks c join raw.documents d2 using (document_id)
                where d2.source_id = s.source_id),
               (select count(*) from raw.ingest_failures f where f.source_id = s.source_id)
        from raw.sources s left join raw.documents d using (source_id)
        group by all order by 1""").fetchall()


def ingest_failures(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every file ingestion quarantined: (source_id, path, exception class, reason)."""
    return con.execute("select source_id, path, exception_class, reason "
                       "from raw.ingest_failures order by 1, 2").fetchall()
