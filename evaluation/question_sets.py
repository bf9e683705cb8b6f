"""The evaluation question sets, from the warehouse (`qa.*`, `marts.document_routes`) and the
hand-written questions file.

- `heldout_synthetic`: `qa.pairs` with split `eval`, not superseded (held-out templates of
  static facts: what the compiled model should know).
- `volatile`: `qa.pairs` with split `volatile_eval`, not superseded (content that is only
  retrieved).
- `stale`: the regression set, superseded `qa.pairs`: the question, the old answer (the pair's
  answer) and the new one (`superseded_by_answer`, else `qa.stale_facts.new_answer` of its fact).
  Correct = the new answer; a stale error = the old answer given. One question per (fact,
  question) text; eval-split pairs are preferred over train-split ones.
- `handwritten_static` / `handwritten_volatile`: questions.yaml split by the route of the
  question's source document in `marts.document_routes`. The source (corpus-relative, e.g.
  `documents/engineering/x.md`) is mapped to (source_id, path) with `source_roots`
  (source_id -> corpus-relative root). Rule: route `static` -> handwritten_static; `volatile`
  and `overflow` -> handwritten_volatile (both are answered from retrieval, not weights). A
  question whose document has no route (not ingested, or no root matches) falls back to its
  `stability` field and is counted in `LoadReport.unrouted`.

`sample` limits a set to n questions drawn with a fixed seed (same n and seed: same questions).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from ingestion.config import source_specs
from settings.config import Settings

QUESTION_SETS = ("heldout_synthetic", "volatile", "stale", "handwritten_static",
                 "handwritten_volatile")
RETRIEVED_ROUTES = frozenset({"volatile", "overflow"})


@dataclass(frozen=True)
class Question:
    """One evaluation question. `answers`: gold answer first, then aliases; `old_answers`: the
    superseded answers (stale set only)."""

    qid: str
    question: str
    answers: tuple[str, ...]
    tenant: str
    qset: str
    old_answers: tuple[str, ...] = ()
    route: str | None = None
    source_id: str | None = None
    path: str | None = None
    document_id: str | None = None
    chunk_id: str | None = None

    def __post_init__(self) -> None:
        if not self.answers:
            raise ValueError(f"question {self.qid!r} has no gold answer")

    @property
    def answer(self) -> str:
        return self.answers[0]


@dataclass
class LoadReport:
    """What loading found besides the questions (for the report and the asset metadata)."""

    available: dict[str, int] = field(default_factory=dict)
    unrouted: list[str] = field(default_factory=list)


def sample(questions: Sequence[Question], n: int | None, seed: int = 0) -> list[Question]:
    """At most `n` questions drawn without replacement with a fixed seed, in their order."""
    if n is None or n >= len(questions):
        return list(questions)
    if n < 0:
        raise ValueError(f"sample size must not be negative, got {n}")
    chosen = sorted(random.Random(seed).sample(range(len(questions)), n))
    return [questions[i] for i in chosen]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    try:
        cur = con.execute(sql, params)
    except duckdb.CatalogException as exc:
        raise LookupError(f"the warehouse lacks a table this set needs ({exc}): run the "
                          "synthesis (qa.*) and dbt (marts.*) steps first") from exc
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _tenant_clause(tenants: Iterable[str] | None, column: str = "tenant") -> tuple[str, list]:
    if tenants is None:
        return "", []
    chosen = sorted(set(tenants))
    return f" and {column} in (select unnest(?::varchar[]))", [chosen]


def synthetic_set(con: duckdb.DuckDBPyConnection, split: str, qset: str,
                  tenants: Iterable[str] | None = None,
                  facts: Iterable[str] | None = None) -> list[Question]:
    """Current (not superseded) `qa.pairs` of one split, ordered by pair id; only pairs of
    `facts` when given."""
    where, params = _tenant_clause(tenants)
    rows = _rows(con, "select pair_id, tenant, chunk_id, document_id, path, question, answer, "
                      "fact_id from qa.pairs where split = ? and not superseded"
                      f"{where} order by pair_id", [split, *params])
    if facts is not None:
        keep = set(facts)
        rows = [r for r in rows if r["fact_id"] in keep]
    return [Question(qid=r["pair_id"], question=r["question"], answers=(r["answer"],),
                     tenant=r["tenant"], qset=qset, path=r["path"],
                     document_id=r["document_id"], chunk_id=r["chunk_id"]) for r in rows]


def stale_set(con: duckdb.DuckDBPyConnection,
              tenants: Iterable[str] | None = None) -> list[Question]:
    """Superseded pairs with their new answer (see the module docstring)."""
    where, params = _tenant_clause(tenants, "p.tenant")
    rows = _rows(con, f"""
        select p.pair_id, p.tenant, p.fact_id, p.chunk_id, p.document_id, p.path, p.question,
               p.answer as old_answer, p.split,
               coalesce(p.superseded_by_answer, s.new_answer) as new_answer
        from qa.pairs p
        left join (select old_fact_id, any_value(new_answer) as new_answer
                   from qa.stale_facts group by old_fact_id) s on s.old_fact_id = p.fact_id
        where p.superseded{where}
        order by p.fact_id, p.question, (p.split = 'eval') desc, p.pair_id""", params)
    seen: set[tuple[str, str]] = set()
    out = []
    for r in rows:
        key = (r["fact_id"], r["question"])
        if r["new_answer"] is None or key in seen:
            continue
        seen.add(key)
        out.append(Question(qid=r["pair_id"], question=r["question"],
                            answers=(r["new_answer"],), old_answers=(r["old_answer"],),
                            tenant=r["tenant"], qset="stale", path=r["path"],
                            document_id=r["document_id"], chunk_id=r["chunk_id"]))
    return sorted(out, key=lambda q: q.qid)


def split_source(source: str, source_roots: Mapping[str, str]) -> tuple[str, str] | None:
    """(source_id, path in the source) for a corpus-relative path; the longest root wins.

    >>> split_source("repos/api/src/app.py", {"api": "repos/api", "docs": "documents"})
    ('api', 'src/app.py')
    """
    best: tuple[str, str] | None = None
    best_len = -1
    for source_id, root in source_roots.items():
        prefix = root.strip("/") + "/"
        if source.startswith(prefix) and len(prefix) > best_len:
            best, best_len = (source_id, source[len(prefix):]), len(prefix)
    return best


def read_questions_file(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a hand-written questions YAML file, validated."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"questions file {file} does not exist")
    entries = yaml.safe_load(file.read_text()) or []
    if not isinstance(entries, list):
        raise ValueError(f"{file}: expected a list of questions at the top level")
    for i, entry in enumerate(entries):
        missing = [k for k in ("id", "question", "answer", "source", "tenant")
                   if not isinstance(entry, dict) or not entry.get(k)]
        if missing:
            raise ValueError(f"{file}: question #{i + 1} lacks {missing}")
    return entries


def source_roots(settings: Settings) -> dict[str, str]:
    """Each source's folder relative to `evaluation.corpus_root`: how a hand-written
    question's `source` path finds its document."""
    if not settings.evaluation.corpus_root:
        return {}
    root = settings.resolve_path(settings.evaluation.corpus_root)
    out = {}
    for spec in source_specs(settings):
        if spec.path is not None and spec.path.is_relative_to(root):
            out[spec.name] = str(spec.path.relative_to(root))
    return out


def handwritten_sets(con: duckdb.DuckDBPyConnection, questions_file: str | Path,
                     source_roots: Mapping[str, str], tenants: Iterable[str] | None = None,
                     report: LoadReport | None = None) -> dict[str, list[Question]]:
    """`handwritten_static` and `handwritten_volatile` (rule in the module docstring)."""
    routes = {(r["source_id"], r["path"]): r for r in _rows(
        con, "select source_id, path, route, document_id from marts.document_routes", [])}
    chosen = set(tenants) if tenants is not None else None
    out: dict[str, list[Question]] = {"handwritten_static": [], "handwritten_volatile": []}
    for entry in read_questions_file(questions_file):
        if chosen is not None and entry["tenant"] not in chosen:
            continue
        located = split_source(str(entry["source"]), source_roots)
        row = routes.get(located) if located else None
        if row is None:
            route = "volatile" if entry.get("stability") == "volatile" else "static"
            if report is not None:
                report.unrouted.append(str(entry["id"]))
        else:
            route = row["route"]
        qset = "handwritten_volatile" if route in RETRIEVED_ROUTES else "handwritten_static"
        aliases = tuple(str(a) for a in entry.get("aliases") or ())
        out[qset].append(Question(
            qid=str(entry["id"]), question=str(entry["question"]),
            answers=(str(entry["answer"]), *aliases), tenant=str(entry["tenant"]), qset=qset,
            route=route, source_id=located[0] if located else None,
            path=located[1] if located else None,
            document_id=row["document_id"] if row else None))
    return out


def load_question_sets(con: duckdb.DuckDBPyConnection, questions_file: str | Path | None = None,
                       source_roots: Mapping[str, str] | None = None,
                       sets: Sequence[str] = QUESTION_SETS, limit: int | None = None,
                       seed: int = 0, tenants: Iterable[str] | None = None,
                       report: LoadReport | None = None,
                       trained_facts: Iterable[str] | None = None) -> dict[str, list[Question]]:
    """The named question sets, each sampled to at most `limit` questions with `seed`.

    `trained_facts` (the facts the candidate was trained on) limits `heldout_synthetic` to
    unseen phrasings of those facts: with a training budget that takes some facts only, a
    held-out question about a fact never trained measures coverage, not learning (the
    hand-written sets measure coverage).

    The hand-written sets need `questions_file` and `source_roots`; they are skipped (absent
    from the result) when `questions_file` is None.
    """
    unknown = sorted(set(sets) - set(QUESTION_SETS))
    if unknown:
        raise ValueError(f"unknown question sets {unknown}: expected some of {QUESTION_SETS}")
    tenants = None if tenants is None else list(tenants)
    full: dict[str, list[Question]] = {}
    if "heldout_synthetic" in sets:
        full["heldout_synthetic"] = synthetic_set(con, "eval", "heldout_synthetic", tenants,
                                                  trained_facts)
    if "volatile" in sets:
        full["volatile"] = synthetic_set(con, "volatile_eval", "volatile", tenants)
    if "stale" in sets:
        full["stale"] = stale_set(con, tenants)
    wants_handwritten = {"handwritten_static", "handwritten_volatile"} & set(sets)
    if wants_handwritten and questions_file is not None:
        if source_roots is None:
            raise ValueError("the hand-written sets need source_roots (source_id -> "
                             "corpus-relative root) to find each question's document route")
        hand = handwritten_sets(con, questions_file, source_roots, tenants, report)
        full.update({name: hand[name] for name in sorted(wants_handwritten)})
    if report is not None:
        report.available.update({name: len(qs) for name, qs in full.items()})
    return {name: sample(full[name], limit, seed) for name in QUESTION_SETS if name in full}
