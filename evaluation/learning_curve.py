"""Hand-written closed-book accuracy against synthetic training tokens, per way of teaching.

For one tenant of a finished run (its warehouse and base), each point trains a fresh adapter on
the first facts of the budget order (`training.synthesis.natural.fact_order`) until its
synthetic tokens reach `ratio` x the tenant's source tokens, then answers the tenant's
hand-written static questions closed-book. Methods:

- ``template``: the generator's template questions (up to `max_per_fact` per fact);
- ``natural``: model-written questions first, templates after (only where the run wrote any);
- ``rewrites``: template questions plus as many rewrites (study notes) of the same facts, 1:1;
- ``distill``: template questions with the context-distillation objective (`both`).

Synthetic tokens count what the data says (question, answer, note text), not the chat
scaffolding around it; `train_tokens` is what the trainer saw (scaffolding, replay, epochs).
Rows are written to `$KC_HOME/learning_curve/<tenant>.json`, which the tenant's report plots,
beside two reference rows measured once per curve on the same questions (`reference_rows`: the
base closed-book and rag), so a point reads as a share of rag's gain.

    python -m evaluation.learning_curve --config examples/northwind/kc.yaml --tenant finance \\
        --ratios 1 3 10 --methods template rewrites distill
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

METHODS = ("template", "natural", "rewrites", "distill")

log = logging.getLogger(__name__)


def curve_path(kc_home: Path, tenant: str) -> Path:
    return Path(kc_home) / "learning_curve" / f"{tenant}.json"


def measured_curve(kc_home: Path, tenant: str) -> list[dict[str, Any]]:
    """The tenant's measured points (the report plots them); [] before any."""
    path = curve_path(kc_home, tenant)
    return json.loads(path.read_text()) if path.exists() else []


def source_tokens(con: duckdb.DuckDBPyConnection, tenant: str, tokenizer: Any) -> int:
    texts = [t for (t,) in con.execute("select text from marts.chunks_for_training where "
                                       "tenant = ?", [tenant]).fetchall()]
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def budget_rows(con: duckdb.DuckDBPyConnection, tenant: str, method: str, budget: int,
                tokenizer: Any, max_per_fact: int = 3, seed: int = 0
                ) -> tuple[list[dict], list[str], int]:
    """(pairs, notes, synthetic tokens): whole facts in budget order until `budget` tokens;
    past full coverage, more phrasings (and notes) of every fact, `max_per_fact` at a time."""
    from training.synthesis.natural import fact_order

    pairs: dict[str, list[dict]] = {}
    for fact, question, answer, chunk, family in con.execute(
            "select fact_id, question, answer, chunk_id, family from qa.pairs where tenant = ? "
            "and split = 'train' and not superseded order by pair_id", [tenant]).fetchall():
        written = family.startswith("natural")
        if written and method != "natural":
            continue
        pairs.setdefault(fact, []).append({"question": question, "answer": answer,
                                           "chunk_id": chunk, "fact_id": fact,
                                           "written": written})
    notes: dict[str, list[str]] = {}
    for fact, text in con.execute("select fact_id, text from qa.notes where tenant = ? "
                                  "order by note_id", [tenant]).fetchall():
        notes.setdefault(fact, []).append(text)

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    # Round r takes each fact's phrasings r*max_per_fact.. in budget order: every fact gets its
    # first phrasings before any fact gets more, so a large budget buys variety per fact (the
    # lever Physics of LMs 3.1 measures) once coverage is complete, instead of stopping there.
    order = fact_order(list(pairs), seed)
    for fact in order:
        pairs[fact].sort(key=lambda p: not p["written"])
    chosen, chosen_notes, used = [], [], 0
    rounds = max((len(g) for g in pairs.values()), default=0)
    for r in range(0, rounds, max_per_fact):
        for fact in order:
            group = pairs[fact][r:r + max_per_fact]
            if not group:
                continue
            extra = notes.get(fact, [])[r:r + len(group)] if method == "rewrites" else []
            cost = sum(tokens(p["question"]) + tokens(p["answer"]) for p in group) + \
                sum(tokens(n) for n in extra)
            if used + cost > budget and chosen:
                return chosen, chosen_notes, used
            chosen += [{k: v for k, v in p.items() if k != "written"} for p in group]
            chosen_notes += extra
            used += cost
    return chosen, chosen_notes, used


def scores(questions: Sequence[Any], texts: Sequence[str], taught: Sequence[str] = ()
           ) -> dict[str, Any]:
    """Exact match and "in" over all the questions, and over those whose gold answer is one the
    point trained on (the wording gap, apart from coverage)."""
    from training.answers import exact_match, normalize_answer, short_answer_contains

    em = [exact_match(t, q.answers) for q, t in zip(questions, texts, strict=True)]
    inside = [short_answer_contains(t, q.answers) for q, t in zip(questions, texts, strict=True)]
    known = {normalize_answer(a) for a in taught}
    about = [i for i, q in enumerate(questions)
             if any(normalize_answer(g) in known for g in q.answers)]
    n = max(len(questions), 1)
    return {"handwritten_static": round(sum(em) / n, 3),
            "handwritten_static_contained": round(sum(inside) / n, 3),
            "questions": len(questions), "trained_questions": len(about),
            "trained_static": round(sum(em[i] for i in about) / max(len(about), 1), 3),
            "trained_static_contained": round(sum(inside[i] for i in about) /
                                              max(len(about), 1), 3)}


def gain_target(rows: Sequence[Mapping[str, Any]], share: float = 0.8) -> float | None:
    """base + `share` x (rag - base) from the curve's reference rows; None before they exist."""
    refs = {r["method"]: r["handwritten_static"] for r in rows if r.get("reference")}
    if "base" not in refs or "rag" not in refs:
        return None
    return refs["base"] + share * (refs["rag"] - refs["base"])


def projection(rows: Sequence[Mapping[str, Any]], share: float = 0.8) -> list[dict[str, Any]]:
    """Per method, the log-linear fit of accuracy on synthetic tokens per source token
    (EntiGraph's finding) and the ratio at which it would reach `share` of rag's gain.

    Fitted on the points at >= 1x (below, nothing is learned yet); a method needs two such
    points and a rising fit, or its `ratio_needed` is None. `wall_s_needed` scales the
    largest point's wall time by synthetic tokens (training time grows about linearly).
    """
    import math

    target = gain_target(rows, share)
    if target is None:
        return []
    out = []
    for method in dict.fromkeys(r["method"] for r in rows if not r.get("reference")):
        pts = sorted((r["tokens_per_source_token"], r["handwritten_static"], r.get("wall_s"))
                     for r in rows if r["method"] == method and not r.get("reference")
                     and r["tokens_per_source_token"] >= 0.95)
        fit = {"method": method, "points": len(pts), "target": round(target, 3),
               "slope_per_decade": None, "ratio_needed": None, "wall_s_needed": None}
        if len(pts) >= 2:
            xs, ys = [math.log10(p[0]) for p in pts], [p[1] for p in pts]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            var = sum((x - mx) ** 2 for x in xs)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
            fit["slope_per_decade"] = round(slope, 4)
            if slope > 0:
                ratio = 10 ** (mx + (target - my) / slope)
                fit["ratio_needed"] = round(ratio, 1)
                last = pts[-1]
                if last[2]:
                    fit["wall_s_needed"] = round(last[2] * ratio / last[0])
        out.append(fit)
    return out


@dataclass
class CurveInputs:
    """What every point of one tenant's curve shares, read once: the base folder and its
    tokenizer, the tenant's source tokens and chunk passages, the questions, the SFT settings."""

    base: Path
    tokenizer: Any
    source_tokens: int
    passages: dict[str, str]
    questions: Sequence[Any]
    sft: Any


def curve_point(settings: Any, tenant: str, method: str, ratio: float, out_dir: Path,
                inputs: CurveInputs) -> dict[str, Any]:
    """Train one adapter and answer the hand-written static questions closed-book."""
    from answering import AnsweringModel, answer_questions
    from ingestion.warehouse import connect
    from training.sft import train_sft

    base, src, questions, sft = inputs.base, inputs.source_tokens, inputs.questions, inputs.sft
    with connect(settings.warehouse_path, read_only=True) as con:
        pairs, notes, synthetic = budget_rows(con, tenant, method, round(ratio * src),
                                              inputs.tokenizer,
                                              settings.training.max_pairs_per_fact or 3)
    started = time.monotonic()
    run_sft = replace(sft, objective="both" if method == "distill" else sft.objective,
                      eval_questions=0)
    result = train_sft(base, pairs, notes, settings=run_sft,
                       out_dir=out_dir / f"{method}-x{ratio:g}",
                       teacher_passages=inputs.passages)
    bundle = AnsweringModel.load(base, result.adapter_path, name=f"{method}-x{ratio:g}")
    answers = answer_questions([q.question for q in questions], "compiled", bundle)
    wall = time.monotonic() - started
    return {"method": method, "tokens_per_source_token": round(synthetic / max(src, 1), 2),
            "ratio_asked": ratio, "synthetic_tokens": synthetic, "source_tokens": src,
            "pairs": len(pairs), "notes": len(notes),
            "facts": len({p["fact_id"] for p in pairs}),
            **scores(questions, [a.text for a in answers], [p["answer"] for p in pairs]),
            "train_tokens": result.train_tokens, "wall_s": round(wall, 1)}


def reference_rows(settings: Any, tenant: str, inputs: CurveInputs) -> list[dict[str, Any]]:
    """The lines a curve is read against, on the same questions: `base` closed-book and `rag`
    (the tenant's champion adapter, or the base before any promotion, reading the top-k
    chunks the tenant's members may read): the models `kc ask` answers with."""
    from answering import ArmSettings, answer_questions, tenant_model
    from evaluation.principals import tenant_principal
    from retrieval.embedder import embedder_for
    from retrieval.index import ChunkIndex

    index = ChunkIndex(settings.index_path, embedder_for(settings))
    arm_settings = ArmSettings(k=settings.evaluation.k, batch_size=settings.evaluation.batch_size)
    texts = [q.question for q in inputs.questions]
    principal = tenant_principal(settings, tenant)
    rows = []
    for arm in ("base", "rag"):
        bundle = tenant_model(settings, tenant, arm)
        started = time.monotonic()
        answers = answer_questions(texts, arm, bundle, index, principal, arm_settings)
        rows.append({"method": arm, "reference": True, "reader": bundle.name,
                     **scores(inputs.questions, [a.text for a in answers]),
                     "wall_s": round(time.monotonic() - started, 1)})
    return rows


def _save(out: Path, new: list[dict[str, Any]], replace_references: bool = False
          ) -> list[dict[str, Any]]:
    """Merge rows into the file as it is now (another curve of the same tenant may have
    written since this one started), atomically."""
    rows = json.loads(out.read_text()) if out.exists() else []
    if replace_references:
        rows = [r for r in rows if not r.get("reference")]
    keys = {(r["method"], r.get("ratio_asked")) for r in new}
    rows = [r for r in rows if (r["method"], r.get("ratio_asked")) not in keys] + new
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(out)
    return rows


def run_curve(settings: Any, tenant: str, methods: Sequence[str], ratios: Sequence[float],
              out: Path | None = None, refresh_references: bool = False) -> list[dict[str, Any]]:
    """Every (method, ratio) point, appended to `out` as it is measured (a rerun skips the
    points already there); the reference rows once, or again with `refresh_references` (after
    a new champion)."""
    from transformers import AutoTokenizer

    from evaluation.question_sets import handwritten_sets, source_roots
    from ingestion.warehouse import connect
    from training.compile_inputs import base_for, chunk_passages
    from training.config import sft_settings

    out = out or curve_path(settings.kc_home, tenant)
    rows = json.loads(out.read_text()) if out.exists() else []
    done = {(r["method"], r.get("ratio_asked")) for r in rows}
    with connect(settings.warehouse_path, read_only=True) as con:
        questions = handwritten_sets(con, settings.resolve_path(settings.evaluation.questions_file),
                                     source_roots(settings), [tenant])["handwritten_static"]
        has_natural = con.execute("select count(*) from qa.pairs where tenant = ? and family "
                                  "like 'natural%'", [tenant]).fetchone()[0] > 0
        _, base = base_for(settings)
        tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
        inputs = CurveInputs(base, tok, source_tokens(con, tenant, tok),
                             chunk_passages(con, tenant), questions, sft_settings(settings))
    if refresh_references or not any(r.get("reference") for r in rows):
        rows = _save(out, reference_rows(settings, tenant, inputs), replace_references=True)
    for method in methods:
        if method == "natural" and not has_natural:
            log.warning("learning curve %s: no model-written questions in this run; skipping "
                        "'natural' (turn on training.natural)", tenant)
            continue
        for ratio in ratios:
            if (method, ratio) in done:
                continue
            row = curve_point(settings, tenant, method, ratio, out.parent / "runs" / tenant,
                              inputs)
            rows = _save(out, [row])
            log.info("learning curve %s: %s", tenant, json.dumps(row))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from settings.config import load_settings
    from settings.offline import apply_offline_defaults

    apply_offline_defaults()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m evaluation.learning_curve",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="kc.yaml")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--methods", nargs="*", default=["template", "rewrites", "distill"],
                        choices=METHODS)
    parser.add_argument("--refresh-references", action="store_true",
                        help="measure the base and rag reference rows again (new champion)")
    parser.add_argument("--ratios", nargs="+", type=float, default=[1.0, 3.0, 10.0])
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    run_curve(settings, args.tenant, args.methods, args.ratios,
              refresh_references=args.refresh_references)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
