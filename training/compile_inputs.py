"""What a tenant's compile reads, and where its results go: training data, lineage, the base
model and the adapter folders. The Dagster assets, the evaluation and `kc ask` all resolve
models here, so they agree on which base and which adapter a tenant's compile means.

`settings` is the loaded kc.yaml (`settings.config.Settings`); it is read for its
`model`, `training`, `models_path`, `datasets_path` and `warehouse_path` only.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import duckdb

from training.answers import normalize_answer
from training.base_model import KNOWN_BASES, resolve_model_path
from training.registry import Lineage, dir_sha256, file_sha256, project_git_sha, sha256_text
from training.synthesis.natural import fact_order
from training.trainers import read_complete


def training_data(con: duckdb.DuckDBPyConnection, tenant: str, max_pairs: int | None,
                  max_notes: int | None, seed: int = 0, max_per_fact: int | None = None,
                  rewrites_per_pair: float = 0.0) -> tuple[list[dict], list[str]]:
    """The tenant's current training pairs (question, answer, chunk_id) and study notes.

    Duplicate questions (same normalised text and answer) are dropped; `max_per_fact` keeps at
    most that many phrasings of each fact, model-written ones (`natural_*` families) first,
    then templates (seeded), so a budget buys more facts rather than more repeats; `max_pairs`
    then caps the pairs by whole facts, taken in `fact_order`. Notes (rewrites of the facts)
    come from the kept facts only: `rewrites_per_pair` per pair, at most `max_notes`.
    """
    pairs = con.execute("select fact_id, question, answer, chunk_id, family like 'natural%' "
                        "from qa.pairs where tenant = ? and split = 'train' and not superseded "
                        "order by pair_id", [tenant]).fetchall()
    pairs = _dedupe(pairs)
    if max_per_fact is not None:
        rng = random.Random(seed)
        by_fact: dict[str, list] = {}
        for p in pairs:
            by_fact.setdefault(p[0], []).append(p)
        kept_ids = set()
        for group in by_fact.values():
            written = [p for p in group if p[4]]
            template = [p for p in group if not p[4]]
            chosen = rng.sample(written, min(max_per_fact, len(written)))
            chosen += rng.sample(template, min(max_per_fact - len(chosen), len(template)))
            kept_ids.update(id(p) for p in chosen)
        pairs = [p for p in pairs if id(p) in kept_ids]
    if max_pairs is not None and len(pairs) > max_pairs:
        per_fact: dict[str, int] = {}
        for p in pairs:
            per_fact[p[0]] = per_fact.get(p[0], 0) + 1
        kept, count = set(), 0
        for fact in fact_order(list(per_fact), seed):
            if count + per_fact[fact] > max_pairs:
                break
            kept.add(fact)
            count += per_fact[fact]
        pairs = [p for p in pairs if p[0] in kept]
    notes = _fact_notes(con, tenant, [p[0] for p in pairs], round(rewrites_per_pair * len(pairs)))
    if max_notes is not None:
        notes = notes[:max_notes]
    return [{"question": q, "answer": a, "chunk_id": c, "fact_id": f}
            for f, q, a, c, _ in pairs], notes


def _fact_notes(con: duckdb.DuckDBPyConnection, tenant: str, facts: list[str], wanted: int
                ) -> list[str]:
    """Up to `wanted` notes of `facts`, spread round-robin so each fact gets its share."""
    if wanted <= 0 or not facts:
        return []
    by_fact: dict[str, list[str]] = {}
    for fact_id, text in con.execute(
            "select fact_id, text from qa.notes where tenant = ? and fact_id in "
            "(select unnest(?)) order by note_id", [tenant, sorted(set(facts))]).fetchall():
        by_fact.setdefault(fact_id, []).append(text)
    order = list(dict.fromkeys(facts))
    out: list[str] = []
    for rank in range(max((len(v) for v in by_fact.values()), default=0)):
        for fact in order:
            texts = by_fact.get(fact, [])
            if rank < len(texts) and len(out) < wanted:
                out.append(texts[rank])
    return out


def _dedupe(pairs: list[tuple]) -> list[tuple]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in pairs:
        key = (normalize_answer(p[1]), normalize_answer(p[2]))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def chunk_passages(con: duckdb.DuckDBPyConnection, tenant: str) -> dict[str, str]:
    """The tenant's trainable chunks as passages (heading path, then text), by chunk id: the
    gold and distractor passages of reading examples."""
    rows = con.execute("select chunk_id, section, text from marts.chunks_for_training where "
                       "tenant = ? order by chunk_id", [tenant]).fetchall()
    return {c: f"{section}\n{text}" if section else text for c, section, text in rows}


def training_rows_key(examples: list[dict], notes: list[str]) -> str:
    """What an SFT adapter learns from: its training pairs and notes. The QA dataset's eval and
    volatile splits are left out, so a change to volatile content alone retrains nothing."""
    return sha256_text(json.dumps([examples, notes], sort_keys=True))


def heldout_pairs(con: duckdb.DuckDBPyConnection, tenant: str) -> list[dict]:
    return [{"question": q, "answer": a} for q, a in con.execute(
        "select question, answer from qa.pairs where tenant = ? and split = 'eval' and not "
        "superseded order by pair_id", [tenant]).fetchall()]


def lineage(con: duckdb.DuckDBPyConnection, tenant: str, dataset_dir: Path, base_id: str,
            base_path: Path, method: str, manifest: Path | None = None) -> Lineage:
    docs = con.execute("select distinct c.document_id, d.current_content_hash from "
                       "marts.chunks_for_training c join raw.documents d using (document_id) "
                       "where c.tenant = ? order by 1", [tenant]).fetchall()
    return Lineage(
        corpus_snapshot_hash=sha256_text("\n".join(f"{d} {h}" for d, h in docs)),
        qa_dataset_sha256=dir_sha256(dataset_dir) if dataset_dir.exists() else "missing",
        dbt_manifest_hash=file_sha256(manifest) if manifest and manifest.exists() else "missing",
        git_sha=project_git_sha(), base_model_id=base_id,
        base_model_hash=base_hash(base_path), training_method=method, tenant=tenant,
        source_document_ids=tuple(d for d, _ in docs))


# ---------------------------------------------------------------- which base, which adapter
def base_hash(base_path: Path) -> str:
    """The base's identity: a packaged base's GGUF sha256 (recorded when it was materialised),
    else a hash of the folder's files. Keyed on content, not path: moving $KC_HOME keeps it."""
    done = read_complete(base_path)
    if done is not None and done.get("sha256"):
        return str(done["sha256"])
    return dir_sha256(base_path)


def base_for(settings: Any) -> tuple[str, Path]:
    """(model id, local folder) of the configured base, materialised on first use."""
    return settings.model.base, resolve_model_path(settings.model.base, settings.models_path)


def is_packaged(model_id: str) -> bool:
    return model_id in KNOWN_BASES


def run_dir(settings: Any, tenant: str, stage: str, payload: object) -> Path:
    """One folder per (stage, inputs): unchanged inputs reuse it."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return settings.models_path / "adapters" / tenant / f"{stage}-{digest.hexdigest()[:12]}"


def sft_run_dir(settings: Any, tenant: str, rows_key: str, base_model_hash: str) -> Path:
    """Keyed on the training rows, the base's content hash and the training settings."""
    return run_dir(settings, tenant, "sft", [rows_key, base_model_hash,
                                             settings.training.model_dump()])


def grpo_run_dir(settings: Any, tenant: str, sft_dir: Path) -> Path:
    return run_dir(settings, tenant, "grpo", [sft_dir.name, settings.training.model_dump()["grpo"]])


def tenant_training_data(con: duckdb.DuckDBPyConnection, settings: Any,
                         tenant: str) -> tuple[list[dict], list[str]]:
    """`training_data` with the kc.yaml budget (`training.max_train_pairs`, `max_notes`,
    `max_pairs_per_fact`, `rewrites_per_pair`)."""
    t = settings.training
    return training_data(con, tenant, t.max_train_pairs, t.max_notes,
                         max_per_fact=t.max_pairs_per_fact, rewrites_per_pair=t.rewrites_per_pair)


def current_rows_key(con: duckdb.DuckDBPyConnection, settings: Any, tenant: str) -> str:
    return training_rows_key(*tenant_training_data(con, settings, tenant))


def adapter_dirs(settings: Any, tenant: str) -> tuple[Path, Path, Path | None]:
    """(base folder, SFT adapter, GRPO adapter or None) of the tenant's current compile."""
    from ingestion.warehouse import connect

    _, base = base_for(settings)
    with connect(settings.warehouse_path, read_only=True) as con:
        rows_key = current_rows_key(con, settings, tenant)
    sft_dir = sft_run_dir(settings, tenant, rows_key, base_hash(base))
    grpo_dir = None
    if settings.training.grpo is not None:
        grpo_dir = grpo_run_dir(settings, tenant, sft_dir)
        grpo_dir = grpo_dir / "adapter" if (grpo_dir / "adapter").exists() else None
    return base, sft_dir / "adapter", grpo_dir
