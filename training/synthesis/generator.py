"""The `Generator` interface and the offline generator that needs no language model."""

from __future__ import annotations

import hashlib
import random
from typing import Protocol, runtime_checkable

from training.synthesis.config import SynthesisConfig
from training.synthesis.extract import extract_facts
from training.synthesis.models import Chunk, ChunkSynthesis, Fact, Note, QAPair, stable_id
from training.synthesis.normalize import answer_tokens, contains_tokens, normalize_question
from training.synthesis.templates import HELDOUT, NOTES, TRAIN, Rendered, Template, frame_of, render

# Bump when extraction or templates change what the offline generator makes of a chunk, so
# cached results are recomputed.
OFFLINE_VERSION = "offline-v1"


@runtime_checkable
class Generator(Protocol):
    """Makes facts, question-answer pairs and notes from one chunk.

    `generator_id` names the generator in outputs; `fingerprint()` changes whenever the output
    for the same chunk text would change (it keys the generation cache). Failures are reported
    in `ChunkSynthesis.failures`, never raised for a single chunk. A generator that needs the
    warehouse (the teacher's response cache) may define `use_warehouse(con)`.
    """

    generator_id: str

    def fingerprint(self) -> str: ...

    def generate(self, chunk: Chunk) -> ChunkSynthesis: ...


def _rng(seed: int, fact: Fact) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x1f{fact.kind}\x1f{fact.subject}\x1f{fact.relation}"
                            f"\x1f{fact.answer}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def questions_for(fact: Fact, config: SynthesisConfig,
                  generator_id: str) -> tuple[list[QAPair], list[Note]]:
    """Training forms, held-out forms and notes for one fact, chosen reproducibly."""
    frame = frame_of(fact)
    rng = _rng(config.seed, fact)
    answer = answer_tokens(fact.answer)

    def usable(templates: list[Template]) -> list[Rendered]:  # no question may hold its answer
        return [r for r in render(fact, templates)
                if not contains_tokens(answer_tokens(r.text), answer)]

    train = usable(TRAIN[frame])
    rng.shuffle(train)
    train = train[:config.paraphrases_per_fact]
    taken = {normalize_question(r.text) for r in train}
    heldout = [r for r in usable(HELDOUT[frame]) if normalize_question(r.text) not in taken]
    rng.shuffle(heldout)
    heldout = heldout[:config.heldout_families]
    pairs = [QAPair(pair_id=stable_id("pair", fact.fact_id, r.family, r.text),
                    fact_id=fact.fact_id, chunk_id=fact.chunk_id, document_id=fact.document_id,
                    tenant=fact.tenant, question=r.text, answer=fact.answer, family=r.family,
                    heldout=is_heldout, generator_id=generator_id,
                    content_hash=fact.content_hash, version_number=fact.version_number,
                    path=fact.path, section=fact.section)
             for rendered, is_heldout in ((train, False), (heldout, True)) for r in rendered]
    notes_pool = render(fact, NOTES[frame])
    rng.shuffle(notes_pool)
    notes = [Note(note_id=stable_id("note", fact.fact_id, r.family, r.text),
                  fact_id=fact.fact_id, chunk_id=fact.chunk_id, document_id=fact.document_id,
                  tenant=fact.tenant, text=r.text, family=r.family, generator_id=generator_id,
                  content_hash=fact.content_hash, version_number=fact.version_number)
             for r in notes_pool[:config.notes_per_fact]]
    return pairs, notes


class OfflineGenerator:
    """Deterministic extraction plus templates: works with no teacher model at all.

    >>> from training.synthesis.models import Chunk
    >>> chunk = Chunk("c1", "d1", "acme", "Security logs are retained for 400 days.",
    ...               section="Security Policy", path="security.md")
    >>> result = OfflineGenerator().generate(chunk)
    >>> result.facts[0].answer, sum(not p.heldout for p in result.pairs) >= 5
    ('400 days', True)
    """

    generator_id = "offline"

    def __init__(self, config: SynthesisConfig | None = None) -> None:
        self.config = config or SynthesisConfig()

    def fingerprint(self) -> str:
        return f"{OFFLINE_VERSION}:{self.config.fingerprint()}"

    def generate(self, chunk: Chunk) -> ChunkSynthesis:
        facts = extract_facts(chunk, max_spans_per_clause=self.config.max_spans_per_clause,
                              max_answer_words=self.config.max_answer_words)
        result = ChunkSynthesis(facts=facts)
        for fact in facts:
            pairs, notes = questions_for(fact, self.config, self.generator_id)
            result.pairs.extend(pairs)
            result.notes.extend(notes)
        return result
