"""Search every store the pipeline writes for given strings: is a secret anywhere it should not be?

Stores under ``$KC_HOME``: the DuckDB warehouse (every table of every schema), the LanceDB
chunk table (every column but the vector), and the text files of the QA/training datasets,
MLflow artifacts, model folders and reports. The source corpora and git mirrors under
``$KC_HOME`` (``northwind/``, ``repos/``) are inputs, not stores, and are not searched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import duckdb

STORES = ("duckdb", "lancedb", "datasets", "mlflow_artifacts", "models", "reports")
TEXT_SUFFIXES = frozenset({".jsonl", ".json", ".txt", ".md", ".yaml", ".yml", ".csv", ".html",
                           ".parquet", ".py", ".log", ""})
MAX_TEXT_FILE_BYTES = 200 * 1024 * 1024
_FILE_STORES = {"datasets": "datasets", "mlflow_artifacts": "mlartifacts", "models": "models",
                "reports": "reports"}


def duckdb_text(warehouse: Path) -> Iterator[str]:
    """Every row of every user table, as text, one table at a time."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog') "
            "order by 1, 2").fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            yield "\n".join(map(str, rows))
    finally:
        con.close()


def lancedb_text(index_path: Path, table: str = "chunks") -> Iterator[str]:
    """Every row of the chunk table but its vectors, as text."""
    import lancedb

    db = lancedb.connect(str(index_path))
    if table not in db.table_names():
        return
    data = db.open_table(table).to_arrow()
    data = data.drop_columns([c for c in data.column_names if c == "vector"])
    for batch in data.to_batches(max_chunksize=10_000):
        yield "\n".join(map(str, batch.to_pylist()))


def files_text(folder: Path) -> Iterator[str]:
    """Text-like files under ``folder`` (parquet decoded to rows)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in TEXT_SUFFIXES or path.stat().st_size > MAX_TEXT_FILE_BYTES:
            continue
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            yield "\n".join(map(str, pq.read_table(path).to_pylist()))
        else:
            yield path.read_bytes().decode("utf-8", "replace")


def store_texts(home: Path, *, warehouse: Path | None = None,
                index_path: Path | None = None) -> Iterator[tuple[str, str]]:
    """(store, text) pairs for every store that exists under ``home``."""
    warehouse = warehouse or home / "warehouse.duckdb"
    index_path = index_path or home / "lancedb"
    if warehouse.exists():
        for text in duckdb_text(warehouse):
            yield "duckdb", text
    if index_path.exists():
        for text in lancedb_text(index_path):
            yield "lancedb", text
    for store, folder in _FILE_STORES.items():
        if (home / folder).exists():
            for text in files_text(home / folder):
                yield store, text


def find_in_stores(home: Path, needles: Mapping[str, Iterable[str]], *,
                   warehouse: Path | None = None,
                   index_path: Path | None = None) -> tuple[dict[str, set[str]], list[str]]:
    """For each key of ``needles``, the stores holding any of its strings (empty: not found);
    and the stores that exist and were searched."""
    for key, strings in needles.items():
        short = [s for s in strings if len(s) < 8]
        if short:  # a short needle would match unrelated text and report false leaks
            raise ValueError(f"needle for {key!r} is too short to search reliably: {short[0]!r}")
    found: dict[str, set[str]] = {key: set() for key in needles}
    searched: set[str] = set()
    for store, text in store_texts(home, warehouse=warehouse, index_path=index_path):
        searched.add(store)
        for key, strings in needles.items():
            if any(s in text for s in strings):
                found[key].add(store)
    return found, sorted(searched)
