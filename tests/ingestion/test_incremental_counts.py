"""One changed document costs one parse and the embeddings of its own chunks, nothing more.

Ingestion into the raw layer, then the index synced from the raw chunks with the columns the
chunk mart gives it (dbt is left out: it is not what parses or embeds). The Dagster path with
dbt is measured by benchmarks/incremental_refresh.py.
"""

from pathlib import Path

from ingestion import ids
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.pipeline import ingest_source
from ingestion.warehouse import connect
from retrieval.embedder import HashingEmbedder
from retrieval.index import ChunkIndex

CFG = IngestionConfig(chunk_tokens=32, chunk_overlap=4)
SPEC_NAME = "docs"


def _write_corpus(root: Path) -> None:
    root.mkdir()
    for i in range(4):
        paragraphs = "\n\n".join(f"Team {i} fact {j}: the limit is {i * 10 + j} units a day "
                                 "for every request that the gateway accepts." for j in range(6))
        (root / f"team{i}.md").write_text(f"# Team {i}\n\n{paragraphs}\n")


def _index_rows(con) -> list[dict]:
    rows = con.execute("""
        select c.chunk_id, c.document_id, d.path, c.section, c.text
        from raw.chunks c join raw.documents d using (document_id)
        where not d.is_deleted order by c.chunk_id""").fetchall()
    return [{"chunk_id": cid, "document_id": doc, "tenant": "eng", "acl_groups": ["eng"],
             "route": "volatile", "source_id": SPEC_NAME, "path": path, "section": section,
             "text": text} for cid, doc, path, section, text in rows]


def _refresh(tmp_path: Path, root: Path, worker, index: ChunkIndex):
    spec = SourceSpec(name=SPEC_NAME, type="documents", tenant="eng", acl_groups=("eng",),
                      path=root)
    with connect(tmp_path / "wh.duckdb") as con:
        report = ingest_source(con, spec, CFG, home=tmp_path, worker=worker)
        rows = _index_rows(con)
    return report, index.sync(rows), rows


def test_one_changed_document_is_parsed_once_and_only_its_chunks_are_embedded(
        tmp_path, parser_worker):
    root = tmp_path / "docs"
    _write_corpus(root)
    index = ChunkIndex(tmp_path / "lancedb", HashingEmbedder(dim=32))
    full_ingest, full_sync, rows = _refresh(tmp_path, root, parser_worker, index)
    assert full_ingest.parsed == 4
    assert full_sync.embedded_this_run == len(rows) > 8  # several chunks a document

    text = (root / "team2.md").read_text()
    (root / "team2.md").write_text(text.replace("the limit is 23 units", "the limit is 99 units"))
    one_ingest, one_sync, rows = _refresh(tmp_path, root, parser_worker, index)

    changed = ids.document_id(SPEC_NAME, "team2.md")
    doc_chunks = sum(1 for r in rows if r["document_id"] == changed)
    assert (one_ingest.parsed, one_ingest.changed_documents, one_ingest.unchanged) == (1, 1, 3)
    assert one_sync.embedded_this_run == doc_chunks == one_ingest.chunks_written
    assert doc_chunks < len(rows)
    assert one_sync.deleted == one_sync.inserted == doc_chunks  # its old chunks, its new ones
