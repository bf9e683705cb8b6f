"""`synthesize_tenant`: a tenant's chunks in, its `qa` tables and exported datasets out."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb

from training.synthesis import store
from training.synthesis.config import SynthesisConfig
from training.synthesis.export import export_tenant
from training.synthesis.generator import Generator, OfflineGenerator
from training.synthesis.models import Chunk, ChunkSynthesis
from training.synthesis.natural import (
    NaturalPlan,
    fact_order,
    natural_pairs,
    write_natural_questions,
)
from training.synthesis.normalize import normalize_answer, normalize_question
from training.synthesis.quality import Selection, select_training, select_volatile
from training.synthesis.report import SynthesisReport, check_drop_rate
from training.synthesis.stale import detect_stale

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


def _generate(con: duckdb.DuckDBPyConnection, generator: Generator, chunks: list[Chunk],
              report: SynthesisReport, progress: Progress | None
              ) -> list[tuple[Chunk, ChunkSynthesis]]:
    """Run the generator on chunks not in the generation cache; count hits and failures."""
    fingerprint = generator.fingerprint()
    cached = store.cached_generations(con, sorted({c.content_sha for c in chunks}),
                                      generator.generator_id, fingerprint)
    results = []
    total = len(chunks)
    step = max(1, total // 20)
    for done, chunk in enumerate(chunks, start=1):
        payload = cached.get(chunk.content_sha)
        if payload is not None:
            result = ChunkSynthesis.from_payload(payload, chunk)
            report.cache_hits += 1
        else:
            result = generator.generate(chunk)
            report.chunks_synthesized += 1
            if result.failures:
                report.failures[chunk.chunk_id] = list(result.failures)
            else:  # failed chunks are retried next run instead of caching the failure
                payload = result.to_payload()
                store.store_generation(con, chunk.content_sha, generator.generator_id,
                                       fingerprint, payload)
                cached[chunk.content_sha] = payload
        results.append((chunk, result))
        if progress is not None:
            progress(done, total, chunk.chunk_id)
        if done % step == 0 or done == total:
            log.info("synthesis %s: %d/%d chunks (%d cached, %d failed)", report.tenant, done,
                     total, report.cache_hits, len(report.failures))
    return results


def _natural(con: duckdb.DuckDBPyConnection, tenant: str,
             results: list[tuple[Chunk, ChunkSynthesis]], training: Selection, plan: NaturalPlan,
             report: SynthesisReport) -> list:
    """Model-written questions for the training facts a budget takes first."""
    sha_of = {chunk.chunk_id: chunk.content_sha for chunk, _ in results}
    template = {p.fact_id: p for p in training.pairs if p.split == "train"}
    existing: dict[str, list[str]] = {}
    for p in training.pairs:
        existing.setdefault(p.fact_id, []).append(p.question)
    facts = {f.fact_id: f for f in training.facts if f.fact_id in template}
    order = fact_order(list(facts), plan.seed)[:plan.max_facts]

    def progress(done: int, total: int) -> None:
        if done == total or done % (plan.config.batch_size * 8) == 0:
            log.info("natural questions %s: %d/%d prompts", tenant, done, total)

    written, outcome = write_natural_questions(
        con, [(facts[f], sha_of[facts[f].chunk_id]) for f in order], existing, plan.writer,
        plan.config, plan.reader, progress)
    report.natural = outcome.to_dict()
    return natural_pairs(written, facts, template, plan.writer.writer_id)


def _rows(selection: Selection, route: str, run_id: str) -> tuple[list, list, list]:
    generator_of = {p.fact_id: p.generator_id for p in selection.pairs}
    facts = [store.as_row(f, route=route, answer_norm=normalize_answer(f.answer),
                          fact_key=f.fact_key, generator_id=generator_of.get(f.fact_id),
                          superseded=False, run_id=run_id) for f in selection.facts]
    pairs = [store.as_row(p, superseded=False, superseded_by_answer=None,
                          superseded_run_id=None, run_id=run_id) for p in selection.pairs]
    notes = [store.as_row(n, run_id=run_id) for n in selection.notes]
    return facts, pairs, notes


def synthesize_tenant(con: duckdb.DuckDBPyConnection, tenant: str, out_dir: str | Path,
                      config: SynthesisConfig | None = None, generator: Generator | None = None,
                      progress: Progress | None = None, natural: NaturalPlan | None = None
                      ) -> SynthesisReport:
    """Synthesize question-answer pairs and notes for one tenant.

    Reads the tenant's static chunks (`marts.chunks_for_training`) and volatile chunks
    (`marts.chunks_for_index`), generates (or reuses cached output for unchanged chunks),
    filters, splits train / eval / volatile_eval, detects facts changed by new document
    versions, writes the `qa` tables in one transaction and exports the datasets to
    `out_dir/<tenant>/`. `progress(done, total, chunk_id)` is called after every chunk.
    With `natural`, a model also writes questions as people ask them for the training facts
    (`training.synthesis.natural`); they join the train split beside the template questions.
    """
    config = config or SynthesisConfig()
    generator = generator or OfflineGenerator(config)
    started = time.monotonic()
    store.ensure_schema(con)
    run_id = uuid.uuid4().hex
    report = SynthesisReport(tenant=tenant, run_id=run_id, generator_id=generator.generator_id)
    report.abandoned_runs = store.start_run(con, run_id, tenant, generator.generator_id,
                                            {"config": config.to_dict(),
                                             "fingerprint": generator.fingerprint()})
    try:
        _synthesize(con, tenant, Path(out_dir), config, generator, progress, report, natural)
    except BaseException as exc:
        store.finish_run(con, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    report.duration_s = round(time.monotonic() - started, 3)
    store.finish_run(con, run_id, "succeeded", report=report.to_dict(),
                     dataset_sha256=report.dataset_sha256)
    log.info("synthesis %s", report.summary())
    return report


def _synthesize(con: duckdb.DuckDBPyConnection, tenant: str, out_dir: Path,
                config: SynthesisConfig, generator: Generator, progress: Progress | None,
                report: SynthesisReport, natural: NaturalPlan | None = None) -> None:
    static = store.load_training_chunks(con, tenant)
    volatile = store.load_volatile_chunks(con, tenant)
    if volatile is None:
        report.warnings.append("marts.chunks_for_index is missing: no volatile eval set")
        volatile = []
    report.chunks, report.volatile_chunks = len(static), len(volatile)
    if not static:
        report.warnings.append(f"tenant {tenant!r} has no static chunks to train on")
    use_warehouse = getattr(generator, "use_warehouse", None)
    if callable(use_warehouse):
        use_warehouse(con)
    results = _generate(con, generator, static + volatile, report, progress)
    training = select_training(results[:len(static)], config, report)
    if natural is not None:
        training.pairs.extend(_natural(con, tenant, results[:len(static)], training, natural,
                                       report))
    train_questions = {normalize_question(p.question) for p in training.pairs
                       if p.split == "train"}
    volatile_sel = select_volatile(results[len(static):], config, report, train_questions)
    # A changed document is usually routed volatile, so its new version is looked up in every
    # fact extracted this run, static or volatile, kept or filtered.
    stale_rows, superseded = detect_stale(
        store.previous_facts(con, tenant), [f for _c, r in results for f in r.facts],
        {c.chunk_id for c in static + volatile}, report.run_id)
    facts, pairs, notes = _rows(training, "static", report.run_id)
    v_facts, v_pairs, _ = _rows(volatile_sel, "volatile", report.run_id)
    store.write_tenant(con, tenant, facts=facts + v_facts, pairs=pairs + v_pairs, notes=notes,
                       stale=stale_rows, superseded_facts=superseded, run_id=report.run_id)
    report.facts, report.volatile_facts = len(training.facts), len(volatile_sel.facts)
    report.notes = len(training.notes)
    report.pairs_by_split = dict(Counter(p.split for p in training.pairs + volatile_sel.pairs))
    for split in ("train", "eval", "volatile_eval"):
        report.pairs_by_split.setdefault(split, 0)
    report.pairs_per_chunk = dict(Counter(p.chunk_id for p in training.pairs))
    report.stale_facts = len(stale_rows)
    report.superseded_pairs = con.execute(
        "select count(*) from qa.pairs where tenant = ? and superseded_run_id = ?",
        [tenant, report.run_id]).fetchone()[0]
    report.dataset_paths, report.dataset_sha256 = export_tenant(con, tenant, out_dir)
    passed, details = check_drop_rate(report, config.max_drop_share)
    if not passed:
        report.warnings.append(f"drop-rate check failed: {details['message']}")
        log.warning("synthesis %s: %s", tenant, details["message"])
