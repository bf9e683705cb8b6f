"""Filters between generation and the dataset: support, de-duplication, quotas and splits.

Order: answer support -> duplicate questions within a fact -> per-chunk quota (whole facts,
reading order) -> duplicate or conflicting questions across the tenant -> evaluation pairs of
facts left without training pairs. Every drop is counted under its filter's name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from training.synthesis.config import SynthesisConfig
from training.synthesis.models import Chunk, ChunkSynthesis, Fact, Note, QAPair
from training.synthesis.normalize import (
    answer_supported,
    answer_tokens,
    contains_tokens,
    normalize_answer,
    normalize_question,
)
from training.synthesis.report import SynthesisReport


@dataclass
class Selection:
    facts: list[Fact] = field(default_factory=list)
    pairs: list[QAPair] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def _fact_pairs(result: ChunkSynthesis) -> dict[str, list[QAPair]]:
    grouped: dict[str, list[QAPair]] = defaultdict(list)
    for pair in result.pairs:
        grouped[pair.fact_id].append(pair)
    return grouped


def _per_chunk(chunk: Chunk, result: ChunkSynthesis, config: SynthesisConfig,
               report: SynthesisReport, *, heldout_only: bool
               ) -> list[tuple[Fact, list[QAPair]]]:
    """Support check, per-fact de-duplication and the chunk quota for one chunk."""
    grouped = _fact_pairs(result)
    evidence = f"{chunk.section}\n{chunk.text}"
    kept: list[tuple[Fact, list[QAPair]]] = []
    budget = config.max_pairs_per_chunk
    for fact in result.facts:
        pairs = [p for p in grouped.get(fact.fact_id, []) if p.heldout or not heldout_only]
        report.candidates += len(pairs)
        if not pairs:
            continue
        if not answer_supported(fact.answer, evidence, min_overlap=config.min_answer_overlap):
            report.drop("unsupported_answer", len(pairs))
            continue
        seen: set[str] = set()
        unique = []
        answer = answer_tokens(fact.answer)
        for pair in pairs:
            key = normalize_question(pair.question)
            if contains_tokens(answer_tokens(pair.question), answer):
                report.drop("answer_in_question")
            elif key in seen:
                report.drop("duplicate_question_fact")
            else:
                seen.add(key)
                unique.append(pair)
        if len(unique) > budget:
            report.drop("chunk_quota", len(unique))
            continue
        budget -= len(unique)
        kept.append((fact, unique))
    return kept


def _dedupe_tenant(groups: list[tuple[Fact, list[QAPair]]], report: SynthesisReport
                   ) -> list[tuple[Fact, list[QAPair]]]:
    """One pair per question text in the tenant; a text with two different answers is
    ambiguous, so every pair asking it goes."""
    answers: dict[str, set[str]] = defaultdict(set)
    for _fact, pairs in groups:
        for pair in pairs:
            answers[normalize_question(pair.question)].add(normalize_answer(pair.answer))
    taken: set[str] = set()
    out = []
    for fact, pairs in groups:
        kept = []
        for pair in pairs:
            key = normalize_question(pair.question)
            if len(answers[key]) > 1:
                report.drop("conflicting_answers")
            elif key in taken:
                report.drop("duplicate_question_tenant")
            else:
                taken.add(key)
                kept.append(pair)
        out.append((fact, kept))
    return out


def select_training(results: list[tuple[Chunk, ChunkSynthesis]], config: SynthesisConfig,
                    report: SynthesisReport) -> Selection:
    """Static chunks -> train (training families) and eval (held-out families) pairs."""
    groups: list[tuple[Fact, list[QAPair]]] = []
    notes_by_fact: dict[str, list[Note]] = defaultdict(list)
    for chunk, result in results:
        report.facts_extracted += len(result.facts)
        groups.extend(_per_chunk(chunk, result, config, report, heldout_only=False))
        for note in result.notes:
            notes_by_fact[note.fact_id].append(note)
    selection = Selection()
    seen_notes: set[str] = set()
    for fact, pairs in _dedupe_tenant(groups, report):
        train = [replace(p, split="train") for p in pairs if not p.heldout]
        evals = [replace(p, split="eval") for p in pairs if p.heldout]
        if not train:
            report.drop("fact_without_train", len(evals))
            continue
        if len(train) < config.min_train_forms:
            report.drop("too_few_paraphrases", len(train) + len(evals))
            continue
        if len(train) < config.paraphrases_per_fact:
            report.facts_below_paraphrase_target += 1
        selection.facts.append(fact)
        selection.pairs.extend(train + evals)
        for note in notes_by_fact.get(fact.fact_id, []):
            key = normalize_question(note.text)
            if key not in seen_notes:
                seen_notes.add(key)
                selection.notes.append(note)
    return selection


def select_volatile(results: list[tuple[Chunk, ChunkSynthesis]], config: SynthesisConfig,
                    report: SynthesisReport, train_questions: set[str]) -> Selection:
    """Volatile chunks -> held-out questions only, never a text the training set holds."""
    groups: list[tuple[Fact, list[QAPair]]] = []
    for chunk, result in results:
        groups.extend(_per_chunk(chunk, result, config, report, heldout_only=True))
    selection = Selection()
    for fact, pairs in _dedupe_tenant(groups, report):
        kept = []
        for pair in pairs:
            if normalize_question(pair.question) in train_questions:
                report.drop("volatile_in_train")
            else:
                kept.append(replace(pair, split="volatile_eval"))
        if kept:
            selection.facts.append(fact)
            selection.pairs.extend(kept)
    return selection
