"""Crash safety: `kill -9` at random points during ingestion and during index writes.

After every kill the warehouse and the index must open, hold no duplicated row, and hold for
each source either its complete previous state or its complete new one (never a part); the
next run completes and ends exactly where an uninterrupted run ends (compared by content
hash and chunk id).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow
KILLS = int(os.environ.get("KC_CRASH_KILLS", "20"))

_INGEST = """
import sys
from pathlib import Path
from evaluation.privacy.secrets_audit import _specs
from evaluation.privacy.secrets_corpus import SecretsCorpus
from ingestion.config import IngestionConfig
from ingestion.runner import ingest_all
home = Path(sys.argv[2])
ingest_all(home / "warehouse.duckdb", _specs(SecretsCorpus(Path(sys.argv[1]))), IngestionConfig(),
           home=home)
print("done", flush=True)
"""

_SYNC = """
import sys
from pathlib import Path
import duckdb
from retrieval.embedder import HashingEmbedder
from retrieval.index import ChunkIndex
con = duckdb.connect(sys.argv[1], read_only=True)
rows = con.sql(sys.argv[3]).fetch_arrow_table()
con.close()
ChunkIndex(Path(sys.argv[2]), HashingEmbedder(dim=64)).sync(rows)
print("done", flush=True)
"""

_ROWS = """select c.chunk_id, c.document_id, s.tenant, s.acl_groups, 'volatile' as route,
       d.source_id, d.path, c.section, c.text
from raw.chunks c join raw.documents d using (document_id) join raw.sources s using (source_id)
where {where} order by c.chunk_id"""


def _run(script: str, *args: str, kill_after: float | None = None) -> bool:
    """Run a script in its own process group; kill -9 the group after ``kill_after`` seconds.
    True when it ran to completion."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", script, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=kill_after if kill_after is not None else 600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the parser worker dies with it
        proc.communicate()
        return False
    assert proc.returncode == 0, err[-2000:]
    return "done" in out


def _warehouse_state(db: Path) -> dict[str, object]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        dup = con.execute("select count(*) - count(distinct chunk_id) from raw.chunks").fetchone()
        assert dup == (0,), "duplicated chunk rows"
        per_source = {}
        for (source,) in con.execute("select source_id from raw.sources").fetchall():
            per_source[source] = (
                frozenset(con.execute(
                    "select d.path, v.content_hash from raw.documents d join "
                    "raw.document_versions v using (document_id) where d.source_id = ?",
                    [source]).fetchall()),
                frozenset(r[0] for r in con.execute(
                    "select chunk_id from raw.chunks join raw.documents using (document_id) "
                    "where source_id = ?", [source]).fetchall()))
        return per_source
    finally:
        con.close()


def _index_ids(path: Path) -> frozenset[str] | None:
    from retrieval.embedder import HashingEmbedder
    from retrieval.index import ChunkIndex

    if not path.exists():
        return None
    ids = ChunkIndex(path, HashingEmbedder(dim=64)).table.to_arrow().column("chunk_id")
    ids = ids.to_pylist()
    assert len(ids) == len(set(ids)), "duplicated index rows"
    return frozenset(ids)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from evaluation.privacy.secrets_corpus import build_secrets_corpus

    root = tmp_path_factory.mktemp("crash")
    corpus = build_secrets_corpus(root / "corpus", n_clean=300)
    clean_home = root / "clean"
    started = time.perf_counter()
    assert _run(_INGEST, str(corpus.root), str(clean_home))
    return corpus, _warehouse_state(clean_home / "warehouse.duckdb"), \
        time.perf_counter() - started, root


def test_kill_nine_during_ingestion(corpus):
    corpus, clean, duration, root = corpus
    home = root / "killed-ingest"
    rng = random.Random(9)
    completed = 0
    for _ in range(KILLS):
        completed += _run(_INGEST, str(corpus.root), str(home),
                          kill_after=rng.uniform(0.5, duration * 1.1))
        db = home / "warehouse.duckdb"
        if not db.exists():
            continue
        state = _warehouse_state(db)  # opens after the kill, no duplicates
        for source, value in state.items():
            assert value == clean[source], f"{source} is partly written"
    assert completed < KILLS  # most runs were really killed
    assert _run(_INGEST, str(corpus.root), str(home))  # the next run completes
    assert _warehouse_state(home / "warehouse.duckdb") == clean


def test_kill_nine_during_index_sync(corpus):
    corpus, _, _, root = corpus
    db = root / "clean" / "warehouse.duckdb"
    full, part = _ROWS.format(where="true"), _ROWS.format(where="c.chunk_index % 5 <> 0")
    targets = {}
    for name, sql in (("full", full), ("part", part)):
        con = duckdb.connect(str(db), read_only=True)
        targets[name] = frozenset(r[0] for r in con.execute(
            f"select chunk_id from ({sql})").fetchall())
        con.close()
    lance = root / "killed-index"
    started = time.perf_counter()
    assert _run(_SYNC, str(db), str(lance), full)
    duration = time.perf_counter() - started
    rng = random.Random(11)
    previous = targets["full"]
    for i in range(KILLS):
        target = "part" if i % 2 == 0 else "full"
        sql = part if target == "part" else full
        done = _run(_SYNC, str(db), str(lance), sql, kill_after=rng.uniform(0.3, duration * 1.1))
        ids = _index_ids(lance)  # opens after the kill, no duplicates
        assert ids in (previous, targets[target]), "index holds a partial write"
        if done:
            assert ids == targets[target]
        previous = ids
    assert _run(_SYNC, str(db), str(lance), full)
    assert _index_ids(lance) == targets["full"]
