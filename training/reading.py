"""Reading examples in the RAFT style: the fact's chunk among distractor chunks -> the answer.

One adapter serves both the closed-book and the context arms, so it is taught to read as well
as to remember. Closed-book rows never carry a passage (training with the passage in the prompt
teaches reading, not remembering); reading rows always do. A share of the reading rows leave the
fact's own chunk out, with the answer `UNKNOWN_ANSWER`: the model learns to say that the
documents do not hold the answer instead of inventing one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from training.prompting import QA, UNKNOWN_ANSWER


@dataclass(frozen=True)
class ReadingSettings:
    """How many reading examples, and how they are built."""

    # 0.2 of the default 300 pairs: the 60 reading rows the compile had when it trained 600
    # pairs and no rewrites, so moving half the budget to rewrites leaves the reader as taught.
    share: float = field(default=0.2, metadata={
        "help": "Reading examples per closed-book pair (0: no reading examples). Each costs "
                "about (distractors + 1) chunks of tokens: budget it."})
    distractors: int = field(default=1, metadata={"help": "Other chunks shown with the fact's."})
    absent_share: float = field(default=0.2, metadata={
        "help": "Share of reading examples without the fact's chunk (answer: not in the "
                "documents)."})
    max_passage_chars: int = field(default=700, metadata={
        "help": "Passages are cut to this many characters (the answer's sentence is kept)."})
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0 or not 0.0 <= self.absent_share <= 1.0:
            raise ValueError("share and absent_share must be in [0, 1]")
        if self.distractors < 0 or self.max_passage_chars < 100:
            raise ValueError("distractors must be >= 0 and max_passage_chars >= 100")


def _cut(text: str, answer: str, limit: int) -> str:
    """`text` cut to `limit` characters around the answer's first occurrence (if any)."""
    if len(text) <= limit:
        return text
    at = text.lower().find(answer.lower())
    start = 0 if at < 0 else max(0, min(at - limit // 2, len(text) - limit))
    return text[start:start + limit]


def reading_examples(pairs: Sequence[Mapping[str, Any]], chunks: Mapping[str, str],
                     settings: ReadingSettings | None = None) -> list[QA]:
    """Reading examples for a seeded sample of `pairs` (each with `chunk_id`).

    `chunks` maps chunk ids to passage text (the tenant's trainable chunks); distractors are
    drawn from the other chunks. Pairs whose chunk is unknown are skipped.

    >>> pairs = [{"question": "Port?", "answer": "8443", "chunk_id": "a"}]
    >>> chunks = {"a": "The relay listens on 8443.", "b": "Lunch is at noon."}
    >>> [(q.answer, q.cited, len(q.passages)) for q in reading_examples(
    ...     pairs, chunks, ReadingSettings(share=1.0, absent_share=0.0))]
    [('8443', 2, 2)]
    """
    settings = settings or ReadingSettings()
    usable = [p for p in pairs if p.get("chunk_id") in chunks]
    if not usable or not settings.share:
        return []
    rng = random.Random(settings.seed)
    ids = sorted(chunks)
    picked = rng.sample(usable, max(1, round(settings.share * len(usable))))
    out = []
    for pair in picked:
        gold = str(pair["chunk_id"])
        others = [c for c in ids if c != gold]
        distractors = rng.sample(others, min(settings.distractors, len(others)))
        absent = bool(others) and rng.random() < settings.absent_share
        shown = distractors + ([] if absent else [gold])
        if absent and len(shown) <= settings.distractors:  # keep the passage count the same
            extra = [c for c in others if c not in shown]
            shown += extra[:1]
        rng.shuffle(shown)
        passages = tuple(_cut(chunks[c], str(pair["answer"]), settings.max_passage_chars)
                         for c in shown)
        if absent:
            out.append(QA(str(pair["question"]), UNKNOWN_ANSWER, passages, None))
        else:
            out.append(QA(str(pair["question"]), str(pair["answer"]), passages,
                          shown.index(gold) + 1))
    return out
