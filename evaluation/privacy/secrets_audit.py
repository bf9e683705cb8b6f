"""Run the pipeline over the generated secrets corpus and measure the scrubber.

Recall: a planted secret counts as caught when (1) none of its strings is in any store, and
(2) the document that carried it did get in (its marker sentence is in ``raw.chunks``), so a
parser that drops a whole file does not pass for a scrubber that removed the secret. A
history-only secret never reaches a store (ingestion reads files at HEAD and commit metadata),
so for it the scrubber is also run on the file as the removed commit held it.

False positives: a clean file whose stored text the scrubber altered (any secret or PII
redaction recorded for it), per 1,000 clean files ingested.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evaluation.privacy.secrets_corpus import (
    KINDS,
    PLACEMENTS,
    SOURCE_DOCS,
    SOURCE_REPO,
    SecretsCorpus,
    build_secrets_corpus,
    history_blob,
)
from evaluation.privacy.stores import find_in_stores

TENANT = "audit"


@dataclass
class SecretsAudit:
    """What the scrubber caught on the generated corpus (see the module docstring)."""

    planted: int
    caught: int
    recall_by_kind: dict[str, float]
    recall_by_placement: dict[str, float]
    missed: list[dict[str, object]] = field(default_factory=list)
    clean_files: int = 0
    clean_ingested: int = 0
    false_positives: int = 0
    fp_per_1000: float = 0.0
    fp_examples: list[dict[str, object]] = field(default_factory=list)
    stores_searched: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.caught / self.planted if self.planted else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "recall": self.recall}


def _specs(corpus: SecretsCorpus):
    from ingestion.config import SourceSpec

    groups = (TENANT,)
    return [SourceSpec(name=SOURCE_REPO, type="git", tenant=TENANT, acl_groups=groups,
                       path=corpus.repo),
            SourceSpec(name=SOURCE_DOCS, type="documents", tenant=TENANT, acl_groups=groups,
                       path=corpus.documents)]


def index_raw_chunks(warehouse: Path, index_path: Path) -> int:
    """Index every stored chunk (as dbt's chunks_for_index would, every route volatile)."""
    from ingestion.warehouse import connect
    from retrieval.embedder import HashingEmbedder
    from retrieval.index import ChunkIndex

    with connect(warehouse, read_only=True) as con:
        rows = con.sql("""
            select c.chunk_id, c.document_id, s.tenant, s.acl_groups, 'volatile' as route,
                   d.source_id, d.path, c.section, c.text
            from raw.chunks c join raw.documents d using (document_id)
            join raw.sources s using (source_id) order by c.chunk_id""").fetch_arrow_table()
    return ChunkIndex(index_path, HashingEmbedder(dim=64)).sync(rows).rows


def ingest_and_index(corpus: SecretsCorpus, home: Path) -> None:
    """The pipeline's write path over the corpus: ingestion, then the LanceDB index."""
    from ingestion.config import IngestionConfig
    from ingestion.runner import ingest_all

    warehouse = home / "warehouse.duckdb"
    ingest_all(warehouse, _specs(corpus), IngestionConfig(), home=home)
    index_raw_chunks(warehouse, home / "lancedb")


def _stored_text(warehouse: Path) -> tuple[str, str, dict[tuple[str, str], dict], set[str]]:
    from ingestion.warehouse import connect

    with connect(warehouse, read_only=True) as con:
        chunks = con.execute("select string_agg(text, '\n') from raw.chunks").fetchone()[0] or ""
        chunks = " ".join(chunks.split())  # PDF extraction re-flows lines
        commits = con.execute(
            "select string_agg(message, '\n') from raw.git_commits").fetchone()[0] or ""
        versions = {(r[0], r[1]): json.loads(r[2]) for r in con.execute("""
            select d.source_id, d.path, v.redactions from raw.documents d
            join raw.document_versions v on v.document_id = d.document_id
             and v.content_hash = d.current_content_hash""").fetchall()}
        failed = {f"{r[0]}:{r[1]}" for r in con.execute(
            "select source_id, path from raw.ingest_failures").fetchall()}
    return chunks, commits, versions, failed


def measure(corpus: SecretsCorpus, home: Path) -> SecretsAudit:
    """Search every store under ``home`` for the corpus's secrets; count false positives."""
    from ingestion.scrub import scrub

    started = time.perf_counter()
    warehouse = home / "warehouse.duckdb"
    needles = {f"{s.kind}/{s.placement}": s.needles for s in corpus.secrets}
    found, searched = find_in_stores(home, needles)
    chunks, commits, versions, failed = _stored_text(warehouse)
    caught_by = defaultdict(list)
    missed = []
    for s in corpus.secrets:
        key = f"{s.kind}/{s.placement}"
        problem = None
        if found[key]:
            problem = f"found in {', '.join(sorted(found[key]))}"
        elif s.placement == "history":
            if f"Add legacy {s.kind} settings" not in commits:
                problem = "the commit that added it was not ingested"
            else:
                clean, _ = scrub(history_blob(corpus, s))
                left = [n for n in s.needles if n in clean]
                if left:
                    problem = f"scrubbing the historical file leaves {len(left)} of its strings"
        elif s.marker not in chunks:
            reason = " (quarantined)" if f"{s.source}:{s.path}" in failed else ""
            problem = f"its document was not ingested{reason}"
        caught_by[(s.kind, s.placement)].append(problem is None)
        if problem:
            missed.append({"kind": s.kind, "placement": s.placement, "path": s.path,
                           "problem": problem})
    fps, ingested = [], 0
    for source, path in corpus.clean:
        red = versions.get((source, path))
        if red is None:
            continue
        ingested += 1
        if red["secrets"] or red["pii"]:
            fps.append({"source": source, "path": path, **red})
    by_kind = {k: _mean(v for (kind, _), vs in caught_by.items() if kind == k for v in vs)
               for k in KINDS if any(kind == k for kind, _ in caught_by)}
    by_place = {p: _mean(v for (_, place), vs in caught_by.items() if place == p for v in vs)
                for p in PLACEMENTS if any(place == p for _, place in caught_by)}
    return SecretsAudit(
        planted=len(corpus.secrets), caught=len(corpus.secrets) - len(missed),
        recall_by_kind=by_kind, recall_by_placement=by_place, missed=missed,
        clean_files=len(corpus.clean), clean_ingested=ingested, false_positives=len(fps),
        fp_per_1000=round(1000 * len(fps) / ingested, 2) if ingested else float("nan"),
        fp_examples=fps[:20], stores_searched=searched,
        seconds=round(time.perf_counter() - started, 1))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def run_secrets_audit(workdir: Path, n_clean: int = 1000) -> SecretsAudit:
    """Build the corpus under ``workdir``, ingest and index it there, and measure."""
    started = time.perf_counter()
    corpus = build_secrets_corpus(Path(workdir) / "corpus", n_clean=n_clean)
    home = Path(workdir) / "home"
    ingest_and_index(corpus, home)
    audit = measure(corpus, home)
    audit.seconds = round(time.perf_counter() - started, 1)
    return audit

