"""Library glue for the model assets: reading a tenant's training data and its lineage."""

import json
import random
from pathlib import Path

import duckdb

from knowledge_compiler.dbt_manifest import MANIFEST
from training.registry import Lineage, dir_sha256, file_sha256, project_git_sha, sha256_text


def training_data(con: duckdb.DuckDBPyConnection, tenant: str, max_pairs: int | None,
                  max_notes: int | None, seed: int = 0) -> tuple[list[dict], list[str]]:
    """The tenant's current training pairs and study notes (capped by whole facts, seeded)."""
    pairs = con.execute("select fact_id, question, answer from qa.pairs where tenant = ? and "
                        "split = 'train' and not superseded order by pair_id",
                        [tenant]).fetchall()
    notes = [r[0] for r in con.execute(
        "select text from qa.notes where tenant = ? order by note_id", [tenant]).fetchall()]
    if max_pairs is not None and len(pairs) > max_pairs:
        facts = sorted({p[0] for p in pairs})
        random.Random(seed).shuffle(facts)
        kept, count = set(), 0
        per_fact: dict[str, int] = {}
        for p in pairs:
            per_fact[p[0]] = per_fact.get(p[0], 0) + 1
        for fact in facts:
            if count + per_fact[fact] > max_pairs:
                break
            kept.add(fact)
            count += per_fact[fact]
        pairs = [p for p in pairs if p[0] in kept]
    if max_notes is not None:
        notes = notes[:max_notes]
    return [{"question": q, "answer": a} for _, q, a in pairs], notes


def training_rows_key(examples: list[dict], notes: list[str]) -> str:
    """What an SFT adapter learns from: its training pairs and notes. The QA dataset's eval and
    volatile splits are left out, so a change to volatile content alone retrains nothing."""
    return sha256_text(json.dumps([examples, notes], sort_keys=True))


def heldout_pairs(con: duckdb.DuckDBPyConnection, tenant: str) -> list[dict]:
    return [{"question": q, "answer": a} for q, a in con.execute(
        "select question, answer from qa.pairs where tenant = ? and split = 'eval' and not "
        "superseded order by pair_id", [tenant]).fetchall()]


def lineage(con: duckdb.DuckDBPyConnection, tenant: str, dataset_dir: Path, base_id: str,
            base_path: Path, method: str) -> Lineage:
    docs = con.execute("select distinct c.document_id, d.current_content_hash from "
                       "marts.chunks_for_training c join raw.documents d using (document_id) "
                       "where c.tenant = ? order by 1", [tenant]).fetchall()
    return Lineage(
        corpus_snapshot_hash=sha256_text("\n".join(f"{d} {h}" for d, h in docs)),
        qa_dataset_sha256=dir_sha256(dataset_dir) if dataset_dir.exists() else "missing",
        dbt_manifest_hash=file_sha256(MANIFEST) if MANIFEST.exists() else "missing",
        git_sha=project_git_sha(), base_model_id=base_id,
        base_model_hash=dir_sha256(base_path), training_method=method, tenant=tenant,
        source_document_ids=tuple(d for d, _ in docs))
