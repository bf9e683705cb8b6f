"""The index's row schema, and turning ``marts.chunks_for_index`` rows into validated rows.

The vector's width depends on the embedder (384 for MiniLM, 64 for the hashing embedder in
tests), and a LanceModel fixes it in the class. So ``chunk_record_model(dim)`` builds (and
caches) one model class per width; ``ChunkRecord`` is the one for MiniLM. The table's Arrow
schema comes from that class, with the embedder's id in the schema metadata so an index built
by one model is never searched with another's query vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import duckdb
import pyarrow as pa
from lancedb.pydantic import LanceModel, Vector
from pydantic import create_model

from retrieval.access import ROUTES, validate_identifier

# Columns taken from the mart; the others it carries (title, chunk_index, n_tokens, the
# document's content_hash) are not needed to search or cite and are left out.
INPUT_COLUMNS = ("chunk_id", "document_id", "tenant", "acl_groups", "route", "source_id",
                 "path", "section", "text")
REQUIRED_COLUMNS = frozenset(INPUT_COLUMNS) - {"path", "section"}
EMBEDDER_METADATA_KEY = b"kc.embedder_id"
_SEP = "\x1f"


class ChunkFields(LanceModel):
    """Every column but the vector."""

    chunk_id: str
    document_id: str
    tenant: str
    acl_groups: list[str]
    route: str
    source_id: str
    path: str | None = None
    section: str | None = None
    text: str
    content_hash: str  # sha256 of text: a changed text is re-embedded
    record_hash: str  # sha256 of every column but the vector: a changed row is rewritten


@cache
def chunk_record_model(dim: int) -> type[ChunkFields]:
    """The LanceModel class for vectors of width ``dim`` (one class per width, cached)."""
    if dim < 1:
        raise ValueError(f"vector dim must be positive, got {dim}")
    return create_model(f"ChunkRecord{dim}", __base__=ChunkFields, vector=(Vector(dim), ...))


ChunkRecord = chunk_record_model(384)  # all-MiniLM-L6-v2


def table_schema(dim: int, embedder_id: str) -> pa.Schema:
    schema = chunk_record_model(dim).to_arrow_schema()
    return schema.with_metadata({EMBEDDER_METADATA_KEY: embedder_id.encode()})


def embedding_text(section: str | None, text: str) -> str:
    """What is embedded for a chunk: its heading path, then its text.

    A chunk cut from a page keeps the page's title this way ("Northwind Service Status >
    Active incident"): measured on the sample corpus, without it the status page's
    active-incident chunk, whose text never names the page, was in no search mode's top 3 for
    "Which incident is currently open on the Northwind service status page?".
    """
    return f"{section}\n{text}" if section else text


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def record_hash(row: Mapping[str, Any]) -> str:
    parts = [row["document_id"], row["tenant"], ",".join(row["acl_groups"]), row["route"],
             row["source_id"], _nullable(row["path"]), _nullable(row["section"]),
             row["content_hash"]]
    return hashlib.sha256(_SEP.join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _nullable(value: str | None) -> str:
    return "\x00null" if value is None else value


def read_chunks_for_index(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The rows to index, from dbt's ``marts.chunks_for_index``, in chunk id order."""
    columns = ", ".join(INPUT_COLUMNS)
    try:
        query = f"select {columns} from marts.chunks_for_index order by chunk_id"
        return con.sql(query).fetch_arrow_table()
    except duckdb.CatalogException as exc:
        raise LookupError(
            "marts.chunks_for_index is missing from the warehouse: run `dbt build` first"
        ) from exc


def prepare_rows(rows: pa.Table | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate input rows and add the hashes; raises ValueError naming the bad row.

    Tenants and groups must be identifiers: the search prefilter can only name those, so a
    chunk with any other tenant or group could never be found by anyone.
    """
    if isinstance(rows, pa.Table):
        table = rows
    elif isinstance(rows, pa.RecordBatchReader):
        table = rows.read_all()
    else:
        table = pa.Table.from_pylist([dict(r) for r in rows]) if rows else None
    if table is None:
        return []
    missing = sorted(REQUIRED_COLUMNS - set(table.column_names))
    if missing:
        raise ValueError(f"chunk rows lack columns {missing}; expected {list(INPUT_COLUMNS)}")
    present = [c for c in INPUT_COLUMNS if c in table.column_names]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in table.select(present).to_pylist():
        out.append(_prepare_row(row, seen))
    return out


def _prepare_row(row: dict[str, Any], seen: set[str]) -> dict[str, Any]:
    chunk_id = row.get("chunk_id")
    if not isinstance(chunk_id, str) or not chunk_id:
        raise ValueError(f"a chunk row has no chunk_id: {_preview(row)}")
    if chunk_id in seen:
        # merge_insert's behaviour with duplicate keys is undefined: refuse instead.
        raise ValueError(f"duplicate chunk_id {chunk_id!r} in the rows to index")
    seen.add(chunk_id)
    for column in ("document_id", "source_id", "text"):
        if not isinstance(row.get(column), str):
            raise ValueError(
                f"chunk {chunk_id}: {column} must be a string, got {row.get(column)!r}"
            )
    validate_identifier(row["tenant"], f"tenant of chunk {chunk_id}")
    if row["route"] not in ROUTES:
        raise ValueError(f"chunk {chunk_id}: route {row['route']!r} is not one of {sorted(ROUTES)}")
    groups = row.get("acl_groups") or []
    if not groups:
        raise ValueError(f"chunk {chunk_id} has no acl_groups: nobody could ever read it")
    acl = sorted({validate_identifier(g, f"acl group of chunk {chunk_id}") for g in groups})
    prepared = {
        "chunk_id": chunk_id,
        "document_id": row["document_id"],
        "tenant": row["tenant"],
        "acl_groups": acl,
        "route": row["route"],
        "source_id": row["source_id"],
        "path": row.get("path"),
        "section": row.get("section"),
        "text": row["text"],
        # Of what is embedded: a changed heading re-embeds the chunk too.
        "content_hash": content_hash(embedding_text(row.get("section"), row["text"])),
    }
    prepared["record_hash"] = record_hash(prepared)
    return prepared


def _preview(row: Mapping[str, Any]) -> str:
    return repr({k: (v[:40] if isinstance(v, str) else v) for k, v in row.items()})[:200]
