"""DuckDB reads and writes of synthesis: chunks in, the `qa` schema out.

Every table in `qa` is written inside one transaction per tenant (see `write_tenant`), so a
crash leaves the previous complete state; caches are written as they fill, so work done before
a crash is not lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from training.synthesis.models import Chunk

SCHEMA = """
create schema if not exists qa;
create table if not exists qa.runs (
    run_id varchar primary key, tenant varchar not null, status varchar not null,
    generator_id varchar, config_json varchar, started_at timestamptz, finished_at timestamptz,
    report_json varchar, dataset_sha256 varchar, error varchar);
create table if not exists qa.facts (
    fact_id varchar primary key, tenant varchar not null, chunk_id varchar not null,
    document_id varchar not null, content_hash varchar, version_number integer, route varchar,
    kind varchar, subject varchar, relation varchar, answer varchar, answer_norm varchar,
    answer_type varchar, evidence varchar, section varchar, path varchar, fact_key varchar,
    generator_id varchar, superseded boolean not null default false, run_id varchar);
create table if not exists qa.pairs (
    pair_id varchar primary key, tenant varchar not null, fact_id varchar not null,
    chunk_id varchar not null, document_id varchar not null, content_hash varchar,
    version_number integer, path varchar, section varchar, question varchar not null,
    answer varchar not null, family varchar, split varchar not null, generator_id varchar,
    superseded boolean not null default false, superseded_by_answer varchar,
    superseded_run_id varchar, run_id varchar);
create table if not exists qa.notes (
    note_id varchar primary key, tenant varchar not null, fact_id varchar not null,
    chunk_id varchar not null, document_id varchar not null, content_hash varchar,
    version_number integer, text varchar not null, family varchar, generator_id varchar,
    run_id varchar);
create table if not exists qa.stale_facts (
    stale_id varchar primary key, tenant varchar not null, document_id varchar not null,
    fact_key varchar, kind varchar, subject varchar, relation varchar,
    old_fact_id varchar, old_chunk_id varchar, old_content_hash varchar,
    old_version_number integer, old_answer varchar,
    new_fact_id varchar, new_chunk_id varchar, new_content_hash varchar,
    new_version_number integer, new_answer varchar, run_id varchar, detected_at timestamptz);
create table if not exists qa.teacher_cache (
    content_sha varchar, prompt_version varchar, teacher_id varchar, response varchar,
    created_at timestamptz, primary key (content_sha, prompt_version, teacher_id));
create table if not exists qa.generation_cache (
    content_sha varchar, generator_id varchar, fingerprint varchar, payload varchar,
    created_at timestamptz, primary key (content_sha, generator_id, fingerprint));
"""

FACT_COLUMNS = ["fact_id", "tenant", "chunk_id", "document_id", "content_hash", "version_number",
                "route", "kind", "subject", "relation", "answer", "answer_norm", "answer_type",
                "evidence", "section", "path", "fact_key", "generator_id", "superseded", "run_id"]
PAIR_COLUMNS = ["pair_id", "tenant", "fact_id", "chunk_id", "document_id", "content_hash",
                "version_number", "path", "section", "question", "answer", "family", "split",
                "generator_id", "superseded", "superseded_by_answer", "superseded_run_id",
                "run_id"]
NOTE_COLUMNS = ["note_id", "tenant", "fact_id", "chunk_id", "document_id", "content_hash",
                "version_number", "text", "family", "generator_id", "run_id"]
STALE_COLUMNS = ["stale_id", "tenant", "document_id", "fact_key", "kind", "subject", "relation",
                 "old_fact_id", "old_chunk_id", "old_content_hash", "old_version_number",
                 "old_answer", "new_fact_id", "new_chunk_id", "new_content_hash",
                 "new_version_number", "new_answer", "run_id", "detected_at"]


def now() -> datetime:
    return datetime.now(UTC)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute("select count(*) from information_schema.tables "
                      "where table_schema = ? and table_name = ?", [schema, table]).fetchone()
    return bool(row and row[0])


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute("select column_name from information_schema.columns "
                       "where table_schema = ? and table_name = ?", [schema, table]).fetchall()
    return {r[0] for r in rows}


def _chunk_query(con: duckdb.DuckDBPyConnection, table: str, where: str) -> str:
    """Select chunks from a mart, filling columns it lacks from `raw.*` when present."""
    cols = _columns(con, "marts", table)
    has_raw_chunks = table_exists(con, "raw", "chunks")
    has_versions = table_exists(con, "raw", "document_versions")

    def col(name: str, default: str) -> str:
        return f"m.{name}" if name in cols else default

    content_hash = col("content_hash", "rc.content_hash" if has_raw_chunks else "null")
    chunk_index = col("chunk_index", "rc.chunk_index" if has_raw_chunks else "m.chunk_id")
    joins = ""
    if has_raw_chunks and ("content_hash" not in cols or "chunk_index" not in cols):
        joins += " left join raw.chunks rc on rc.chunk_id = m.chunk_id"
    version = "null"
    if has_versions:
        joins += (f" left join raw.document_versions dv on dv.document_id = m.document_id"
                  f" and dv.content_hash = {content_hash}")
        version = "dv.version_number"
    route = col("route", "'static'")
    return (f"select m.chunk_id, m.document_id, m.tenant, m.text, {col('section', 'null')},"
            f" {col('path', 'null')}, {col('title', 'null')}, {route},"
            f" {col('source_id', 'null')}, {content_hash}, {version},"
            f" {col('acl_groups', 'null')}, {col('n_tokens', '0')}, {col('fact_bits', 'null')}"
            f" from marts.{table} m{joins} where {where}"
            f" order by m.document_id, {chunk_index}, m.chunk_id")


def _to_chunks(rows: Iterable[tuple[Any, ...]]) -> list[Chunk]:
    return [Chunk(chunk_id=r[0], document_id=r[1], tenant=r[2], text=r[3] or "",
                  section=r[4] or "", path=r[5] or "", title=r[6] or "", route=r[7] or "static",
                  source_id=r[8] or "", content_hash=r[9] or "", version_number=r[10],
                  acl_groups=tuple(r[11] or ()), n_tokens=int(r[12] or 0), fact_bits=r[13])
            for r in rows]


def load_training_chunks(con: duckdb.DuckDBPyConnection, tenant: str) -> list[Chunk]:
    """The tenant's static chunks from `marts.chunks_for_training`."""
    if not table_exists(con, "marts", "chunks_for_training"):
        raise LookupError("marts.chunks_for_training does not exist in this warehouse: run "
                          "ingestion and `dbt build` before synthesis")
    sql = _chunk_query(con, "chunks_for_training", "m.tenant = ?")
    return _to_chunks(con.execute(sql, [tenant]).fetchall())


def load_volatile_chunks(con: duckdb.DuckDBPyConnection, tenant: str) -> list[Chunk] | None:
    """The tenant's volatile chunks from `marts.chunks_for_index`; None without that table."""
    if not table_exists(con, "marts", "chunks_for_index"):
        return None
    sql = _chunk_query(con, "chunks_for_index", "m.tenant = ? and m.route = 'volatile'")
    return _to_chunks(con.execute(sql, [tenant]).fetchall())


def load_all_chunks(con: duckdb.DuckDBPyConnection) -> list[Chunk]:
    """Every current chunk: `marts.chunks_for_index`, else the latest versions in `raw.*`."""
    if table_exists(con, "marts", "chunks_for_index"):
        return _to_chunks(con.execute(_chunk_query(con, "chunks_for_index", "true")).fetchall())
    if not all(table_exists(con, "raw", t) for t in ("chunks", "documents", "sources")):
        raise LookupError("neither marts.chunks_for_index nor raw.chunks/documents/sources "
                          "exist in this warehouse: run ingestion first")
    rows = con.execute("""
        select c.chunk_id, c.document_id, s.tenant, c.text, c.section, d.path, d.title,
               'unrouted', d.source_id, c.content_hash, null, s.acl_groups, c.n_tokens, null
        from raw.chunks c
        join raw.documents d on d.document_id = c.document_id
             and d.current_content_hash = c.content_hash and not coalesce(d.is_deleted, false)
        join raw.sources s on s.source_id = d.source_id
        order by c.document_id, c.chunk_index""").fetchall()
    return _to_chunks(rows)


# -- caches -----------------------------------------------------------------------------------

def cached_generations(con: duckdb.DuckDBPyConnection, shas: list[str], generator_id: str,
                       fingerprint: str) -> dict[str, str]:
    if not shas:
        return {}
    rows = con.execute(
        "select content_sha, payload from qa.generation_cache where generator_id = ? "
        "and fingerprint = ? and content_sha in (select unnest(?::varchar[]))",
        [generator_id, fingerprint, shas]).fetchall()
    return dict(rows)


def store_generation(con: duckdb.DuckDBPyConnection, sha: str, generator_id: str,
                     fingerprint: str, payload: str) -> None:
    con.execute("insert or replace into qa.generation_cache values (?, ?, ?, ?, ?)",
                [sha, generator_id, fingerprint, payload, now()])


# -- runs -------------------------------------------------------------------------------------

def start_run(con: duckdb.DuckDBPyConnection, run_id: str, tenant: str, generator_id: str,
              config: dict[str, Any]) -> int:
    """Record a running run; earlier runs of the tenant still 'running' crashed: mark them."""
    abandoned = con.execute(
        "update qa.runs set status = 'abandoned', finished_at = ?, "
        "error = 'superseded by run ' || ? where tenant = ? and status = 'running' "
        "returning run_id", [now(), run_id, tenant]).fetchall()
    con.execute("insert into qa.runs (run_id, tenant, status, generator_id, config_json, "
                "started_at) values (?, ?, 'running', ?, ?, ?)",
                [run_id, tenant, generator_id, json.dumps(config, sort_keys=True), now()])
    return len(abandoned)


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, *,
               report: dict[str, Any] | None = None, dataset_sha256: str | None = None,
               error: str | None = None) -> None:
    con.execute("update qa.runs set status = ?, finished_at = ?, report_json = ?, "
                "dataset_sha256 = ?, error = ? where run_id = ?",
                [status, now(), json.dumps(report, sort_keys=True, default=str) if report
                 else None, dataset_sha256, error, run_id])


# -- tenant state -----------------------------------------------------------------------------

def previous_facts(con: duckdb.DuckDBPyConnection, tenant: str) -> list[dict[str, Any]]:
    """Active (not superseded) static facts the last run left for the tenant."""
    cur = con.execute("select * from qa.facts where tenant = ? and not superseded "
                      "and route = 'static'", [tenant])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: list[str],
            rows: list[dict[str, Any]]) -> None:
    """Bulk insert through Arrow (row-by-row inserts take seconds for a few thousand rows)."""
    if not rows:
        return
    batch = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    con.register("_kc_synthesis_rows", batch)
    try:
        con.execute(f"insert into {table} ({', '.join(columns)}) "
                    f"select {', '.join(columns)} from _kc_synthesis_rows")
    finally:
        con.unregister("_kc_synthesis_rows")


def write_tenant(con: duckdb.DuckDBPyConnection, tenant: str, *, facts: list[dict[str, Any]],
                 pairs: list[dict[str, Any]], notes: list[dict[str, Any]],
                 stale: list[dict[str, Any]], superseded_facts: dict[str, str], run_id: str
                 ) -> None:
    """Replace the tenant's active facts, pairs and notes in one transaction.

    `superseded_facts` maps old fact ids to their new answer: those facts and their pairs are
    kept, flagged superseded, as the regression set. Rows that were superseded and come back
    (a document reverted) are replaced by the fresh ones.
    """
    con.execute("begin transaction")
    try:
        if superseded_facts:
            ids = list(superseded_facts)
            con.execute("update qa.facts set superseded = true where fact_id in "
                        "(select unnest(?::varchar[]))", [ids])
            con.executemany("update qa.pairs set superseded = true, superseded_by_answer = ?, "
                            "superseded_run_id = ? where fact_id = ? and not superseded",
                            [[answer, run_id, fid] for fid, answer in superseded_facts.items()])
        for table in ("facts", "pairs"):
            con.execute(f"delete from qa.{table} where tenant = ? and not superseded", [tenant])
        con.execute("delete from qa.notes where tenant = ? and fact_id not in "
                    "(select fact_id from qa.facts where superseded)", [tenant])
        for table, key, rows in (("facts", "fact_id", facts), ("pairs", "pair_id", pairs),
                                 ("notes", "note_id", notes)):
            if rows:
                con.execute(f"delete from qa.{table} where {key} in (select unnest(?::varchar[]))",
                            [[r[key] for r in rows]])
        _insert(con, "qa.facts", FACT_COLUMNS, facts)
        _insert(con, "qa.pairs", PAIR_COLUMNS, pairs)
        _insert(con, "qa.notes", NOTE_COLUMNS, notes)
        if stale:
            con.execute("delete from qa.stale_facts where stale_id in "
                        "(select unnest(?::varchar[]))", [[s["stale_id"] for s in stale]])
            _insert(con, "qa.stale_facts", STALE_COLUMNS, stale)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def as_row(record: object, **extra: Any) -> dict[str, Any]:
    row = asdict(record)  # type: ignore[call-overload]
    row.update(extra)
    return row
