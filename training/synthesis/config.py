"""Configuration of question-answer synthesis (dataclasses in the style of trl's configs)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass
class SynthesisConfig:
    """How many questions, notes and pairs synthesis makes, and when its output is refused."""

    paraphrases_per_fact: int = field(default=6, metadata={
        "help": "Training question forms per fact (at least 5: facts are learned only when "
                "seen in several phrasings)."})
    heldout_families: int = field(default=2, metadata={
        "help": "Held-out question families per fact, used only for evaluation (at least 1)."})
    notes_per_fact: int = field(default=3, metadata={
        "help": "Declarative study notes restating each fact (at least 3)."})
    max_pairs_per_chunk: int = field(default=256, metadata={
        "help": "Most question-answer pairs (training and evaluation) kept per chunk; facts "
                "past the quota are dropped whole, in reading order."})
    max_drop_share: float = field(default=0.5, metadata={
        "help": "check_drop_rate fails when filters drop more than this share of candidates."})
    max_spans_per_clause: int = field(default=3, metadata={
        "help": "Most answer spans (amounts, dates, names, ...) turned into facts per clause."})
    max_answer_words: int = field(default=12, metadata={
        "help": "Longest short answer in words; definitions and purposes may be longer."})
    min_answer_overlap: float = field(default=0.8, metadata={
        "help": "Answer-support check: share of a long answer's tokens that must occur in the "
                "chunk (short answers must occur verbatim)."})
    min_train_forms: int = field(default=3, metadata={
        "help": "Facts left with fewer training questions after de-duplication are dropped "
                "(their pairs counted under 'too_few_paraphrases')."})
    seed: int = field(default=0, metadata={
        "help": "Seed for choosing templates; the same seed gives the same dataset."})

    def __post_init__(self) -> None:
        checks = [
            (self.paraphrases_per_fact >= 5, "paraphrases_per_fact must be at least 5"),
            (self.heldout_families >= 1, "heldout_families must be at least 1"),
            (self.notes_per_fact >= 3, "notes_per_fact must be at least 3"),
            (self.max_pairs_per_chunk >= self.paraphrases_per_fact + self.heldout_families,
             "max_pairs_per_chunk must hold at least one fact's pairs "
             "(paraphrases_per_fact + heldout_families)"),
            (0.0 <= self.max_drop_share <= 1.0, "max_drop_share must be within [0, 1]"),
            (self.max_spans_per_clause >= 1, "max_spans_per_clause must be at least 1"),
            (self.max_answer_words >= 1, "max_answer_words must be at least 1"),
            (0.0 < self.min_answer_overlap <= 1.0, "min_answer_overlap must be within (0, 1]"),
        ]
        errors = [message for ok, message in checks if not ok]
        if errors:
            raise ValueError("invalid SynthesisConfig: " + "; ".join(errors))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def fingerprint(self) -> str:
        """Hash of the settings that change what a generator makes of a chunk."""
        keys = ("paraphrases_per_fact", "heldout_families", "notes_per_fact",
                "max_spans_per_clause", "max_answer_words", "seed")
        payload = json.dumps({k: getattr(self, k) for k in keys}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
