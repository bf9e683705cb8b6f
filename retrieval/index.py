"""The LanceDB chunk index: an idempotent sync from the chunk mart, and its indexes.

One ``sync(rows)`` makes the table hold exactly ``rows``:

* Only chunks whose text is new or changed are embedded; a chunk whose ACL, route or other
  columns changed keeps its stored vector (the vector depends on the text alone).
* One ``merge_insert("chunk_id")`` writes the whole row set with
  ``when_not_matched_by_source_delete()``, so what the mart no longer has is deleted. The
  source carries every row (unchanged ones with their stored vectors) because that delete
  clause removes every target row missing from the source.
* Unchanged rows are not rewritten (``when_matched_update_all(where=record_hash differs)``),
  except after a deletion or a text change: then every row is rewritten. A delete in Lance only
  masks a row in its data file; rewriting all rows leaves the old files wholly unreferenced, so
  pruning old versions removes the deleted text from disk as well as from ``checkout()``.
* After deletions, text changes or ACL/tenant changes, every old version is pruned and the
  full-text and vector indexes are rebuilt (their files hold tokens and codes of old rows).
* Nothing changed: nothing is written and the table version stays the same.

Why the whole row set goes into one merge: ``merge_insert`` does accept a source with a subset
of the columns (an update of ``acl_groups`` alone keeps the stored vector), but
``when_not_matched_by_source_delete()`` then deletes every row the source lacks, so the source
must carry every key, and new rows need every column. An unconditional
``when_matched_update_all()`` on the full set rewrites every row and commits a new version
even when nothing changed, hence the ``record_hash`` condition and the no-op short cut.

This process must be the table's only writer while it syncs (pruning to zero age would break
a concurrent writer); Dagster runs the index asset one at a time.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, Bitmap, HnswSq, IvfPq, LabelList

from retrieval.embedder import Embedder
from retrieval.schema import (
    EMBEDDER_METADATA_KEY,
    embedding_text,
    prepare_rows,
    table_schema,
)

VECTOR_COLUMN = "vector"
TEXT_COLUMN = "text"
# Scalar indexes on the prefilter's columns: at 100k rows they took a prefiltered HNSW query
# from ~32 ms to ~16 ms (the filter no longer scans every row), and build in under a second.
SCALAR_INDEXES = {"tenant": Bitmap, "route": Bitmap, "acl_groups": LabelList}
DISTANCE = "cosine"  # embeddings are unit length: cosine and dot rank alike


@dataclass(frozen=True)
class VectorIndexPolicy:
    """When to build an ANN index and which one; chosen with ``benchmarks/index_search.py``.

    Measured on 2 shared (busy) cores, MiniLM-distributed vectors, access prefilter on, k=10:

    * LanceDB flat search: ~13-18 ms a query at 2k rows, ~20-24 ms at 10k, 150-320 ms at 100k.
    * IVF_HNSW_SQ (ef=64): recall@10 0.98-0.99 at 2k, 10k and 100k, p50 ~10-15 ms; at 100k
      below in-memory numpy exact search (24 ms) when the scope reads every row. Below that
      size nothing in LanceDB reaches numpy (~1 ms at 10k): its per-query floor here is ~9 ms.
    * IVF_PQ reached recall 0.95 only with refine_factor=10 (and nprobes=30 at 100k), was
      slower than HNSW at every size (15-40 ms) and slower to build (29 s at 10k, 192 s at
      100k, against 8 s and 151 s).

    So: flat (exact) below ``min_rows``, where it still answers in under ~20 ms; IVF_HNSW_SQ
    above. Partitions of 25k rows, all probed, up to 100k rows (the largest size measured;
    re-run the benchmark before relying on it far beyond that).
    """

    min_rows: int = 5_000
    kind: Literal["ivf_hnsw_sq", "ivf_pq"] = "ivf_hnsw_sq"
    rows_per_partition: int = 25_000  # IVF partitions = rows / this (at least 1)
    num_sub_vectors: int | None = None  # IVF_PQ only; None = dim / 8
    nprobes: int = 4
    refine_factor: int | None = None
    ef: int | None = 64  # HNSW only: candidates kept while searching the graph

    def index_config(self, n_rows: int, dim: int) -> HnswSq | IvfPq:
        partitions = max(1, n_rows // self.rows_per_partition)
        if self.kind == "ivf_hnsw_sq":
            return HnswSq(distance_type=DISTANCE, num_partitions=partitions)
        sub_vectors = self.num_sub_vectors or max(1, dim // 8)
        if dim % sub_vectors:
            raise ValueError(f"num_sub_vectors {sub_vectors} does not divide dim {dim}")
        return IvfPq(distance_type=DISTANCE, num_partitions=partitions,
                     num_sub_vectors=sub_vectors)

    def query_params(self) -> dict[str, int]:
        """Search-time settings for ``search.py`` when the index exists."""
        params = {"nprobes": self.nprobes}
        if self.refine_factor:
            params["refine_factor"] = self.refine_factor
        if self.kind == "ivf_hnsw_sq" and self.ef:
            params["ef"] = self.ef
        return params


DEFAULT_VECTOR_INDEX = VectorIndexPolicy()


@dataclass
class SyncReport:
    """What one sync did. ``as_metadata()`` is what the Dagster asset should report."""

    rows: int
    embedded_this_run: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    text_changed: int
    access_changed: int
    version: int
    pruned: int
    fts_rebuilt: bool
    vector_index: str | None  # the ANN index type, None for flat search
    wrote: bool  # False: nothing changed, nothing written, version unchanged
    rewrote_all: bool  # a deletion or text change rewrote every row (see module docstring)

    def as_metadata(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Plan:
    to_embed: list[int] = field(default_factory=list)  # positions in the input rows
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    text_changed: int = 0
    access_changed: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)

    @property
    def purge(self) -> bool:
        """Old text must leave the disk: rewrite every row, rebuild indexes, prune."""
        return bool(self.deleted or self.text_changed)


class ChunkIndex:
    """A LanceDB table of chunks with vector, full-text and hybrid search (see ``search.py``)."""

    def __init__(
        self,
        db_path: str | Path,
        embedder: Embedder,
        table: str = "chunks",
        vector_index: VectorIndexPolicy = DEFAULT_VECTOR_INDEX,
    ) -> None:
        self.db_path = Path(db_path)
        self.embedder = embedder
        self.table_name = table
        self.vector_index = vector_index
        # Zero interval: every read sees the latest version, so a long-lived searcher never
        # serves rows a later sync revoked.
        self.db = lancedb.connect(str(self.db_path), read_consistency_interval=timedelta(0))
        try:
            self.table = self.db.open_table(table)
        except ValueError as exc:
            if "not found" not in str(exc):
                raise
            self.table = self.db.create_table(
                table, schema=table_schema(embedder.dim, embedder.model_id)
            )
        self._check_schema()

    def _check_schema(self) -> None:
        schema = self.table.schema
        dim = schema.field(VECTOR_COLUMN).type.list_size
        stored = (schema.metadata or {}).get(EMBEDDER_METADATA_KEY, b"").decode()
        if dim != self.embedder.dim or stored != self.embedder.model_id:
            raise ValueError(
                f"table {self.table_name!r} in {self.db_path} was built with embedder "
                f"{stored or '(unknown)'!r} (dim {dim}), not {self.embedder.model_id!r} "
                f"(dim {self.embedder.dim}): query vectors would not match. Use another table "
                "name, or delete the table folder to rebuild it."
            )

    # ------------------------------------------------------------------ reading
    def count_rows(self) -> int:
        return self.table.count_rows()

    def vector_index_type(self) -> str | None:
        """The ANN index on the vector column (e.g. ``IvfHnswSq``), or None: flat search."""
        for config in self.table.list_indices():
            if VECTOR_COLUMN in config.columns:
                return str(config.index_type)
        return None

    def has_vector_index(self) -> bool:
        return self.vector_index_type() is not None

    def has_fts_index(self) -> bool:
        return any(TEXT_COLUMN in i.columns for i in self.table.list_indices())

    def vector_query_params(self) -> dict[str, int]:
        """ANN settings to apply to vector queries; empty when the search is a flat scan."""
        return self.vector_index.query_params() if self.has_vector_index() else {}

    def _read_state(self) -> tuple[pa.Table, np.ndarray]:
        columns = ["chunk_id", "content_hash", "record_hash", "tenant", "acl_groups",
                   VECTOR_COLUMN]
        state = self.table.search().select(columns).limit(None).to_arrow()
        vectors = state.column(VECTOR_COLUMN).combine_chunks()
        matrix = vectors.flatten().to_numpy(zero_copy_only=False).reshape(-1, self.embedder.dim)
        return state.drop_columns([VECTOR_COLUMN]), matrix

    # ------------------------------------------------------------------ writing
    def sync(self, rows: pa.Table | Sequence[Mapping[str, Any]],
             progress: bool = False) -> SyncReport:
        """Make the table hold exactly ``rows`` (see the module docstring for how)."""
        prepared = prepare_rows(rows)
        state, stored_vectors = self._read_state()
        plan, stored_at = _plan(prepared, state)
        if not plan.changed:
            return self._report(plan, embedded=0, pruned=0, fts=False, wrote=False)


        vectors = np.empty((len(prepared), self.embedder.dim), dtype=np.float32)
        for position, stored_row in stored_at.items():
            vectors[position] = stored_vectors[stored_row]
        if plan.to_embed:
            texts = [embedding_text(prepared[i]["section"], prepared[i]["text"])
                     for i in plan.to_embed]
            vectors[plan.to_embed] = self.embedder.embed_documents(texts, progress=progress)

        source = _to_arrow(prepared, vectors, self.table.schema)
        merge = self.table.merge_insert("chunk_id")
        if plan.purge:
            merge = merge.when_matched_update_all()
        else:
            merge = merge.when_matched_update_all(where="target.record_hash != source.record_hash")
        merge.when_not_matched_insert_all().when_not_matched_by_source_delete().execute(source)

        fts = self._rebuild_fts()
        self._rebuild_scalar_indexes()
        self.ensure_vector_index(rebuild=plan.purge)
        pruned = self._optimize(prune_all=plan.purge or plan.access_changed > 0)
        return self._report(plan, embedded=len(plan.to_embed), pruned=pruned, fts=fts, wrote=True)

    def _report(self, plan: _Plan, embedded: int, pruned: int, fts: bool,
                wrote: bool) -> SyncReport:
        return SyncReport(
            rows=self.count_rows(), embedded_this_run=embedded, inserted=plan.inserted,
            updated=plan.updated, deleted=plan.deleted, unchanged=plan.unchanged,
            text_changed=plan.text_changed, access_changed=plan.access_changed,
            version=self.table.version, pruned=pruned, fts_rebuilt=fts,
            vector_index=self.vector_index_type(), wrote=wrote, rewrote_all=wrote and plan.purge,
        )

    def _rebuild_fts(self) -> bool:
        """Rebuild the full-text index from scratch: an incremental update would keep the
        tokens of deleted rows in the old index segments."""
        if self.count_rows() == 0:
            self._drop_indexes(TEXT_COLUMN)
            return False
        # Positions are only needed for phrase queries, which search never issues.
        self.table.create_index(TEXT_COLUMN, config=FTS(with_position=False), replace=True)
        return True

    def _rebuild_scalar_indexes(self) -> None:
        for column, config in SCALAR_INDEXES.items():
            if self.count_rows() == 0:
                self._drop_indexes(column)
            else:
                self.table.create_index(column, config=config(), replace=True)

    def ensure_vector_index(self, rebuild: bool = False) -> str | None:
        """Apply the policy: no ANN index below ``min_rows``; above, build it once, and
        rebuild it when ``rebuild`` (after deletions, so deleted rows' codes leave its files).
        Rows added later are merged into an existing index by ``optimize()``."""
        n_rows = self.count_rows()
        if n_rows < self.vector_index.min_rows:
            self._drop_indexes(VECTOR_COLUMN)
            return None
        if rebuild or not self.has_vector_index():
            config = self.vector_index.index_config(n_rows, self.embedder.dim)
            self.table.create_index(VECTOR_COLUMN, config=config, replace=True)
        return self.vector_index_type()

    def _drop_indexes(self, column: str) -> None:
        for config in self.table.list_indices():
            if column in config.columns:
                self.table.drop_index(config.name)

    def _optimize(self, prune_all: bool) -> int:
        """Compact, fold new rows into the indexes and prune old versions; returns how many
        versions were removed. ``prune_all`` keeps only the latest version, so revoked or
        deleted rows cannot be read back with ``checkout(old_version)``."""
        before = {v["version"] for v in self.table.list_versions()}
        if prune_all:
            with warnings.catch_warnings():
                # The warning is about concurrent readers of old versions; this sync is the
                # only writer, and revoked data must not stay readable for anyone.
                warnings.filterwarnings("ignore", message=r"optimize\(cleanup_older_than=0\)")
                self.table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
        else:
            self.table.optimize()
        # optimize() commits versions of its own, so count the old ones that are gone.
        return len(before - {v["version"] for v in self.table.list_versions()})


def _plan(prepared: list[dict[str, Any]], state: pa.Table) -> tuple[_Plan, dict[int, int]]:
    """Classify every input row against the stored rows.

    Returns the plan and, for rows whose text is unchanged, the stored row holding their vector.
    """
    plan = _Plan()
    stored = {cid: i for i, cid in enumerate(state.column("chunk_id").to_pylist())}
    content = state.column("content_hash").to_pylist()
    records = state.column("record_hash").to_pylist()
    tenants = state.column("tenant").to_pylist()
    acls = state.column("acl_groups").to_pylist()
    stored_at: dict[int, int] = {}
    for position, row in enumerate(prepared):
        i = stored.pop(row["chunk_id"], None)
        if i is None:
            plan.inserted += 1
            plan.to_embed.append(position)
            continue
        if content[i] != row["content_hash"]:
            plan.updated += 1
            plan.text_changed += 1
            plan.to_embed.append(position)
            continue
        stored_at[position] = i
        if records[i] == row["record_hash"]:
            plan.unchanged += 1
            continue
        plan.updated += 1
        if tenants[i] != row["tenant"] or sorted(acls[i]) != row["acl_groups"]:
            plan.access_changed += 1
    plan.deleted = len(stored)
    return plan, stored_at


def _to_arrow(prepared: list[dict[str, Any]], vectors: np.ndarray, schema: pa.Schema) -> pa.Table:
    """Column-wise build: a 100k x 384 vector column as Python lists would take seconds."""
    columns: dict[str, pa.Array] = {}
    for name in schema.names:
        if name == VECTOR_COLUMN:
            flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
            columns[name] = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
        else:
            columns[name] = pa.array([r[name] for r in prepared], type=schema.field(name).type)
    return pa.table(columns, schema=schema)
