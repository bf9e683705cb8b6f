"""How many hand-written questions the extracted facts could answer.

A question counts as covered when some fact extracted from the same source document has an
answer matching the question's answer or one of its aliases (`answers_match`). This measures
extraction recall only; it never feeds back into templates or training data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from training.synthesis.extract import extract_facts
from training.synthesis.models import Chunk, Fact
from training.synthesis.normalize import answers_match
from training.synthesis.store import load_all_chunks, table_exists


@dataclass
class CoverageReport:
    """Covered / total per tenant and per stability, with the questions missed."""

    per_tenant: dict[str, dict[str, float]] = field(default_factory=dict)
    per_stability: dict[str, dict[str, float]] = field(default_factory=dict)
    missed: list[dict[str, Any]] = field(default_factory=list)
    unmatched_sources: list[str] = field(default_factory=list)

    def share(self, tenant: str) -> float:
        return self.per_tenant.get(tenant, {}).get("share", 0.0)


def _load_questions(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"questions file {path} does not exist") from exc
    if not isinstance(data, list) or not all(isinstance(q, dict) and "answer" in q
                                             and "source" in q for q in data):
        raise ValueError(f"{path}: expected a list of questions with 'answer' and 'source'")
    return data


def _document_paths(con: duckdb.DuckDBPyConnection, chunks: list[Chunk]) -> dict[str, str]:
    """document_id -> absolute-ish path (source uri + path) when raw.sources knows the uri."""
    uris: dict[str, str] = {}
    if table_exists(con, "raw", "sources"):
        uris = dict(con.execute("select source_id, uri from raw.sources").fetchall())
    out = {}
    for c in chunks:
        base = uris.get(c.source_id, "")
        out[c.document_id] = f"{base.rstrip('/')}/{c.path}" if base else c.path
    return out


def _matches_source(full: str, source: str, prefix: str | None) -> bool:
    if prefix:
        return full.removeprefix(prefix.rstrip("/") + "/") == source
    return full == source or full.endswith("/" + source)


def coverage_against_questions(con: duckdb.DuckDBPyConnection, questions_yaml_path: str | Path,
                               corpus_root_prefix: str | None = None) -> CoverageReport:
    """Share of questions per tenant whose answer some fact of their source document holds.

    Chunks come from `marts.chunks_for_index` (all routes) or, without dbt's marts, from the
    current versions in `raw.*`. `corpus_root_prefix` is stripped from "source uri + path" to
    get corpus-relative paths; without it a document matches when its path ends with the
    question's `source`.
    """
    questions = _load_questions(Path(questions_yaml_path))
    chunks = load_all_chunks(con)
    paths = _document_paths(con, chunks)
    by_doc: dict[str, list[Chunk]] = defaultdict(list)
    for c in chunks:
        by_doc[c.document_id].append(c)
    facts_cache: dict[str, list[Fact]] = {}
    report = CoverageReport()
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for q in questions:
        tenant, stability = str(q.get("tenant", "")), str(q.get("stability", "unknown"))
        docs = [d for d, full in paths.items()
                if _matches_source(full, q["source"], corpus_root_prefix)
                and (not tenant or by_doc[d][0].tenant == tenant)]
        if not docs:
            report.unmatched_sources.append(q["source"])
        expected = [str(q["answer"]), *[str(a) for a in q.get("aliases") or []]]
        covered = False
        for d in docs:
            if d not in facts_cache:
                facts_cache[d] = [f for c in by_doc[d] for f in extract_facts(c)]
            if any(answers_match(e, f.answer) for f in facts_cache[d] for e in expected):
                covered = True
                break
        for key in ((tenant, "tenant"), (stability, "stability")):
            totals[key][0] += int(covered)
            totals[key][1] += 1
        if not covered:
            report.missed.append({"id": q.get("id"), "tenant": tenant, "answer": q["answer"],
                                  "source": q["source"], "stability": stability})
    for (name, group), (hit, total) in sorted(totals.items()):
        target = report.per_tenant if group == "tenant" else report.per_stability
        target[name] = {"covered": hit, "total": total, "share": round(hit / total, 4)}
    return report
