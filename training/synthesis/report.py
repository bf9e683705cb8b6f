"""What a synthesis run made and dropped, and the data contract on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SynthesisReport:
    """Counts of one `synthesize_tenant` run; `dropped` counts candidates per filter."""

    tenant: str
    run_id: str = ""
    generator_id: str = ""
    chunks: int = 0  # static chunks read from marts.chunks_for_training
    volatile_chunks: int = 0
    chunks_synthesized: int = 0  # chunks the generator was called for
    cache_hits: int = 0  # chunks whose output came from the generation cache
    facts_extracted: int = 0
    facts: int = 0  # static facts kept with at least one training pair
    volatile_facts: int = 0
    candidates: int = 0  # pairs offered to the filters (static + volatile held-out)
    dropped: dict[str, int] = field(default_factory=dict)
    pairs_by_split: dict[str, int] = field(default_factory=dict)
    pairs_per_chunk: dict[str, int] = field(default_factory=dict)
    notes: int = 0
    facts_below_paraphrase_target: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)  # chunk id -> reasons
    stale_facts: int = 0  # new this run
    superseded_pairs: int = 0  # new this run
    abandoned_runs: int = 0
    dataset_paths: dict[str, str] = field(default_factory=dict)
    dataset_sha256: str = ""
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    natural: dict[str, Any] = field(default_factory=dict)  # NaturalYield.to_dict(); {}: not run

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def drop_share(self) -> float:
        return self.dropped_total / self.candidates if self.candidates else 0.0

    @property
    def facts_per_chunk(self) -> float:
        return self.facts / self.chunks if self.chunks else 0.0

    @property
    def failed_chunks(self) -> int:
        return len(self.failures)

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(dropped_total=self.dropped_total, drop_share=round(self.drop_share, 4),
                    facts_per_chunk=round(self.facts_per_chunk, 3),
                    failed_chunks=self.failed_chunks)
        return data

    def metadata(self) -> dict[str, Any]:
        """The figures a materialization shows (plain values; dicts render as JSON)."""
        return {"dataset_sha256": self.dataset_sha256, "facts": self.facts,
                "pairs_by_split": self.pairs_by_split,
                "pairs_per_chunk_max": max(self.pairs_per_chunk.values(), default=0),
                "notes": self.notes, "cache_hits": self.cache_hits,
                "chunks_synthesized": self.chunks_synthesized, "dropped": self.dropped,
                "failed_chunks": self.failed_chunks, "stale_facts": self.stale_facts,
                "natural_questions": self.natural or {"enabled": False}}

    def summary(self) -> str:
        splits = ", ".join(f"{k}={v}" for k, v in sorted(self.pairs_by_split.items()))
        return (f"{self.tenant}: {self.chunks} static + {self.volatile_chunks} volatile chunks "
                f"({self.cache_hits} cached), {self.facts} facts, pairs {splits}, "
                f"{self.notes} notes, dropped {self.dropped_total}/{self.candidates} "
                f"({self.drop_share:.0%}), {self.failed_chunks} chunks failed")


def check_drop_rate(report: SynthesisReport, max_drop_share: float) -> tuple[bool, dict[str, Any]]:
    """Fail when filters dropped more than `max_drop_share` of the candidates, or when a
    non-empty input gave no training pairs (the "empty dataset" failure users report).

    >>> ok, details = check_drop_rate(SynthesisReport("acme", chunks=2, candidates=10,
    ...     dropped={"duplicate_question_tenant": 2}, pairs_by_split={"train": 6}), 0.5)
    >>> ok, details["drop_share"]
    (True, 0.2)
    >>> check_drop_rate(SynthesisReport("acme", chunks=2, candidates=10,
    ...     dropped={"unsupported_answer": 10}), 0.5)[0]
    False
    """
    if not 0.0 <= max_drop_share <= 1.0:
        raise ValueError(f"max_drop_share must be within [0, 1], got {max_drop_share}")
    train = report.pairs_by_split.get("train", 0)
    details: dict[str, Any] = {
        "tenant": report.tenant, "chunks": report.chunks, "candidates": report.candidates,
        "dropped": dict(report.dropped), "drop_share": round(report.drop_share, 4),
        "max_drop_share": max_drop_share, "train_pairs": train,
        "failed_chunks": report.failed_chunks}
    problems = []
    if report.chunks and train == 0:
        problems.append(f"{report.chunks} static chunks gave 0 training pairs "
                        f"({report.candidates} candidates, {report.failed_chunks} chunks "
                        f"failed)")
    if report.drop_share > max_drop_share:
        worst = max(report.dropped.items(), key=lambda kv: kv[1])[0]
        problems.append(f"filters dropped {report.drop_share:.1%} of {report.candidates} "
                        f"candidates (limit {max_drop_share:.0%}); most by '{worst}'")
    details["message"] = "; ".join(problems) if problems else (
        f"{train} training pairs, {report.drop_share:.1%} dropped")
    return not problems, details


def check_natural_yield(report: SynthesisReport, min_share_kept: float
                        ) -> tuple[bool, dict[str, Any]]:
    """Fail when the model-written questions mostly failed their checks: a writer that keeps
    under `min_share_kept` of what it proposes is writing noise (a wrong prompt or model).
    Passes, saying so, when no questions were written this run.

    >>> ok, details = check_natural_yield(SynthesisReport("acme", natural={
    ...     "proposed": 40, "kept": 6, "dropped": {"off_topic": 30, "unanswerable": 4},
    ...     "facts": 10, "facts_with_questions": 5}), 0.1)
    >>> ok, details["share_kept"]
    (True, 0.15)
    """
    natural = report.natural
    if not natural:
        return True, {"message": "no model-written questions this run"}
    proposed, kept = natural.get("proposed", 0), natural.get("kept", 0)
    share = kept / proposed if proposed else 0.0
    details = {**natural, "share_kept": round(share, 4), "min_share_kept": min_share_kept}
    passed = proposed == 0 or share >= min_share_kept
    details["message"] = (
        f"kept {kept}/{proposed} written questions ({share:.1%}) for "
        f"{natural.get('facts_with_questions', 0)}/{natural.get('facts', 0)} facts"
        + ("" if passed else f"; under {min_share_kept:.0%}"))
    return passed, details


def synthesis_checks(report: SynthesisReport, max_drop_share: float, min_share_kept: float
                     ) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Every data contract on a synthesis run, by asset check name."""
    return {"drop_rate_under_threshold": check_drop_rate(report, max_drop_share),
            "natural_question_yield": check_natural_yield(report, min_share_kept)}
