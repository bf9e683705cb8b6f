"""ChunkIndex.sync: idempotent, embeds only what changed, and purges what was removed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import lancedb
import numpy as np
import pytest

from retrieval import AccessScope, ChunkIndex, HashingEmbedder, read_chunks_for_index, search
from retrieval.schema import embedding_text
from tests.retrieval.conftest import chunk

ENG = AccessScope(tenants=frozenset({"acme"}), groups=frozenset({"eng"}))
HR = AccessScope(tenants=frozenset({"acme"}), groups=frozenset({"hr"}))


def corpus() -> list[dict]:
    rows = [chunk(f"c{i}", f"ordinary chunk {i} about widget tuning", document_id=f"d{i // 2}")
            for i in range(10)]
    rows[4]["text"] = "the launch password is zqxvelvet and must not leak"
    return rows


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes().lower()]


def old_version_is_unreadable(db_path: Path, version: int) -> bool:
    table = lancedb.connect(str(db_path)).open_table("chunks")
    try:
        table.checkout(version)
    except ValueError as exc:
        return "no longer exists" in str(exc)
    return False


def test_first_sync_embeds_and_indexes_every_row(index: ChunkIndex) -> None:
    report = index.sync(corpus())
    assert (report.rows, report.embedded_this_run, report.inserted) == (10, 10, 10)
    assert (report.updated, report.deleted, report.unchanged) == (0, 0, 0)
    assert report.fts_rebuilt and report.wrote
    assert report.vector_index is None  # 10 rows: a flat scan is exact and fast
    assert index.has_fts_index()


def test_second_sync_embeds_nothing_and_writes_nothing(
    index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    first = index.sync(corpus())
    versions = len(index.table.list_versions())
    texts_before = embedder.stats.texts_embedded
    second = index.sync(corpus())
    assert second.embedded_this_run == 0
    assert embedder.stats.texts_embedded == texts_before
    assert (second.inserted, second.updated, second.deleted, second.unchanged) == (0, 0, 0, 10)
    assert not second.wrote and not second.rewrote_all and second.pruned == 0
    assert second.version == first.version
    assert len(index.table.list_versions()) == versions


def test_changed_chunk_reembeds_only_it(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    index.sync(corpus())
    stored_before = _vectors(index)
    rows = corpus()
    rows[7]["text"] = "rewritten chunk seven about gearbox calibration"
    report = index.sync(rows)
    assert report.embedded_this_run == 1
    assert (report.updated, report.text_changed, report.inserted, report.deleted) == (1, 1, 0, 0)
    assert report.rewrote_all  # the old text must leave the data files too
    stored_after = _vectors(index)
    # What is embedded is the heading path, then the text (see schema.embedding_text).
    expected = embedder.embed_query(embedding_text(rows[7]["section"], rows[7]["text"]))
    np.testing.assert_allclose(stored_after["c7"], expected, rtol=1e-6)
    for cid in stored_before.keys() - {"c7"}:
        np.testing.assert_array_equal(stored_after[cid], stored_before[cid])


def test_changed_heading_reembeds_the_chunk(index: ChunkIndex) -> None:
    index.sync(corpus())
    rows = corpus()
    rows[3]["section"] = "Gearbox > Calibration"
    report = index.sync(rows)
    assert (report.embedded_this_run, report.updated) == (1, 1)


def test_new_chunk_ids_are_embedded_and_old_ones_deleted(index: ChunkIndex) -> None:
    index.sync(corpus())
    rows = [r for r in corpus() if r["document_id"] != "d3"]
    rows += [chunk("c6b", "new version of document three", document_id="d3")]
    report = index.sync(rows)
    assert (report.embedded_this_run, report.inserted, report.deleted) == (1, 1, 2)
    assert report.rows == 9


def test_route_change_keeps_the_vector(index: ChunkIndex) -> None:
    index.sync(corpus())
    before = _vectors(index)["c3"]
    rows = corpus()
    rows[3]["route"] = "static"
    report = index.sync(rows)
    assert (report.embedded_this_run, report.updated, report.access_changed) == (0, 1, 0)
    assert report.pruned == 0  # nothing revoked: old versions may stay for time travel
    assert not report.rewrote_all
    np.testing.assert_array_equal(_vectors(index)["c3"], before)
    assert search(index, "widget tuning", ENG, k=10, routes={"static"})[0].chunk_id == "c3"


def test_deleted_document_is_gone_including_old_versions(index: ChunkIndex) -> None:
    index.sync(corpus())
    assert files_containing(index.db_path, b"zqxvelvet"), "fixture: the secret was written"
    version_with_secret = index.table.version
    report = index.sync([r for r in corpus() if r["document_id"] != "d2"])  # holds c4, c5

    assert report.deleted == 2 and report.rows == 8 and report.pruned > 0
    assert report.rewrote_all
    assert [v["version"] for v in index.table.list_versions()] == [report.version]
    assert old_version_is_unreadable(index.db_path, version_with_secret)
    for mode in ("vector", "fts", "hybrid"):
        hits = search(index, "launch password zqxvelvet", ENG, k=10, mode=mode)
        assert {"c4", "c5"}.isdisjoint(h.chunk_id for h in hits)
    # Not only unreachable through the API: no data, deletion or index file holds it.
    assert files_containing(index.db_path, b"zqxvelvet") == []


def test_acl_change_prunes_old_versions(index: ChunkIndex) -> None:
    index.sync(corpus())
    version_with_eng = index.table.version
    rows = corpus()
    rows[4]["acl_groups"] = ["hr"]
    report = index.sync(rows)

    assert (report.access_changed, report.embedded_this_run, report.deleted) == (1, 0, 0)
    assert report.pruned > 0 and not report.rewrote_all
    assert old_version_is_unreadable(index.db_path, version_with_eng)
    assert "c4" not in {h.chunk_id for h in search(index, "launch password", ENG, k=10)}
    assert search(index, "launch password", HR, k=10)[0].chunk_id == "c4"


def test_empty_sync_deletes_everything(index: ChunkIndex) -> None:
    index.sync(corpus())
    report = index.sync([])
    assert (report.rows, report.deleted) == (0, 10)
    assert not index.has_fts_index()
    assert search(index, "widget", ENG, mode="hybrid") == []
    assert files_containing(index.db_path, b"zqxvelvet") == []


def test_another_embedder_cannot_open_the_table(tmp_path: Path) -> None:
    ChunkIndex(tmp_path, embedder=HashingEmbedder(dim=64))
    with pytest.raises(ValueError, match="hashing-64"):
        ChunkIndex(tmp_path, embedder=HashingEmbedder(dim=32))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows.append(dict(rows[0])), "duplicate chunk_id 'c0'"),
        (lambda rows: rows[1].update(tenant="Acme Corp"), "invalid tenant of chunk c1"),
        (lambda rows: rows[2].update(acl_groups=[]), "chunk c2 has no acl_groups"),
        (lambda rows: rows[3].update(acl_groups=["eng') OR true --"]), "invalid acl group"),
        (lambda rows: rows[5].update(route="excluded"), "route 'excluded'"),
        (lambda rows: rows[6].update(text=None), "c6: text must be a string"),
    ],
)
def test_bad_rows_are_rejected_before_writing(index: ChunkIndex, change, message: str) -> None:
    rows = corpus()
    change(rows)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        index.sync(rows)
    assert index.count_rows() == 0


def test_rows_without_required_columns_are_rejected(index: ChunkIndex) -> None:
    with pytest.raises(ValueError, match=r"lack columns \['acl_groups'\]"):
        index.sync([{k: v for k, v in r.items() if k != "acl_groups"} for r in corpus()])


def test_read_chunks_for_index_from_the_mart(index: ChunkIndex) -> None:
    con = duckdb.connect()
    with pytest.raises(LookupError, match="dbt build"):
        read_chunks_for_index(con)
    con.sql("create schema marts")
    con.sql("""create table marts.chunks_for_index (chunk_id varchar primary key,
        document_id varchar, source_id varchar, tenant varchar, acl_groups varchar[],
        route varchar, path varchar, title varchar, section varchar, chunk_index integer,
        content_hash varchar, text varchar, n_tokens integer)""")
    con.sql("""insert into marts.chunks_for_index values
        ('b', 'd1', 's', 'acme', ['eng', 'hr'], 'static', 'a.md', 'A', null, 1, 'h', 'two', 1),
        ('a', 'd1', 's', 'acme', ['eng'], 'volatile', 'a.md', 'A', 'S', 0, 'h', 'one', 1)""")
    table = read_chunks_for_index(con)
    assert table.column("chunk_id").to_pylist() == ["a", "b"]
    report = index.sync(table)
    assert (report.rows, report.embedded_this_run) == (2, 2)
    assert index.sync(read_chunks_for_index(con)).embedded_this_run == 0


def _vectors(index: ChunkIndex) -> dict[str, np.ndarray]:
    table = index.table.to_arrow()
    return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in
            zip(table.column("chunk_id").to_pylist(), table.column("vector").to_pylist(),
                strict=True)}
