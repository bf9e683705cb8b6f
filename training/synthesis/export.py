"""Hugging Face `datasets` export of a tenant's QA data, with a content hash.

Files are written in a fixed row order with no timestamps, so the same `qa` tables always give
byte-identical files and the same sha256; that hash goes with every model trained on them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb

PAIR_FIELDS = {"pair_id": "string", "fact_id": "string", "question": "string",
               "answer": "string", "family": "string", "kind": "string", "chunk_id": "string",
               "document_id": "string", "content_hash": "string", "version_number": "int64",
               "path": "string", "section": "string"}
REGRESSION_FIELDS = {"pair_id": "string", "fact_id": "string", "question": "string",
                     "old_answer": "string", "new_answer": "string", "family": "string",
                     "chunk_id": "string", "document_id": "string", "content_hash": "string",
                     "version_number": "int64", "split": "string"}
NOTE_FIELDS = {"note_id": "string", "fact_id": "string", "text": "string", "family": "string",
               "chunk_id": "string", "document_id": "string", "content_hash": "string",
               "version_number": "int64"}
SPLITS = ("train", "eval", "volatile_eval")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection, tenant: str) -> dict[str, list[dict[str, Any]]]:
    pair_sql = ("select p.pair_id, p.fact_id, p.question, p.answer, p.family, f.kind, "
                "p.chunk_id, p.document_id, p.content_hash, p.version_number, p.path, p.section "
                "from qa.pairs p join qa.facts f using (fact_id) "
                "where p.tenant = ? and p.split = ? and not p.superseded order by p.pair_id")
    out = {split: _rows(con, pair_sql, [tenant, split]) for split in SPLITS}
    out["notes"] = _rows(con, (
        "select n.note_id, n.fact_id, n.text, n.family, n.chunk_id, n.document_id, "
        "n.content_hash, n.version_number from qa.notes n join qa.facts f using (fact_id) "
        "where n.tenant = ? and not f.superseded order by n.note_id"), [tenant])
    out["regression"] = _rows(con, (
        "select pair_id, fact_id, question, answer as old_answer, "
        "superseded_by_answer as new_answer, family, chunk_id, document_id, content_hash, "
        "version_number, split from qa.pairs where tenant = ? and superseded "
        "order by pair_id"), [tenant])
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_tenant(con: duckdb.DuckDBPyConnection, tenant: str, out_dir: str | Path
                  ) -> tuple[dict[str, str], str]:
    """Write `<out_dir>/<tenant>/<split>.{jsonl,parquet}`; return paths and the dataset sha256.

    The dataset sha256 hashes every file's name and sha256 in name order.
    """
    import datasets  # heavy import, only when exporting

    folder = Path(out_dir) / tenant
    folder.mkdir(parents=True, exist_ok=True)
    schemas = {**dict.fromkeys(SPLITS, PAIR_FIELDS), "notes": NOTE_FIELDS,
               "regression": REGRESSION_FIELDS}
    bars_were_on = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    paths: dict[str, str] = {}
    try:
        for name, rows in _tables(con, tenant).items():
            features = datasets.Features({k: datasets.Value(v) for k, v in schemas[name].items()})
            columns = {k: [row[k] for row in rows] for k in schemas[name]}  # also when empty
            ds = datasets.Dataset.from_dict(columns, features=features)
            jsonl, parquet = folder / f"{name}.jsonl", folder / f"{name}.parquet"
            ds.to_json(str(jsonl), lines=True, force_ascii=False)
            ds.to_parquet(str(parquet))
            paths[f"{name}.jsonl"] = str(jsonl)
            paths[f"{name}.parquet"] = str(parquet)
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()
    digest = hashlib.sha256()
    for name in sorted(paths):
        digest.update(f"{name}\x00{_sha256(Path(paths[name]))}\n".encode())
    return paths, digest.hexdigest()
