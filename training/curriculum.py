"""The generic skills curriculum that turns the base model into a learner of facts.

Deterministic (one seed), built from `training.invented` only — never from a user's corpus — and
written in the one prompt format of `training.prompting`. It teaches three skills:

- closed-book answering: facts about invented entities, asked in many phrasings (generic
  templates with noun synonyms, possessives, imperatives, word-order changes, and
  relation-specific wh-questions);
- learning from declarative text: every taught entity also appears in notes (multi-fact
  paragraphs and single-fact sentences);
- reading comprehension: answer from numbered passages and cite the passage, with distractor
  passages and, at most 10% of the time, "the context does not say". The reading part follows a
  curriculum: one passage first, distractors and unknowns in later epochs, because teaching
  everything at once made the model answer "unknown" to nearly every question.

Entities are split three ways: *taught* (questions + notes), *notes-only* (only notes; their
questions are held out, measuring whether knowledge read in notes becomes answerable) and
*reading* (never taught; only seen inside passages). Question templates are split into train
and held-out ones. `evaluation_sets()` measures each held-out split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from training.invented import KIND_NOUNS, RELATIONS, Entity, Fact, Relation, World, invent_world
from training.prompting import QA, UNKNOWN_ANSWER, Example, note_example, sft_example

GENERIC_QUESTIONS = (
    "What is the {noun} of {s}?",
    "What is {s}'s {noun}?",
    "Tell me the {noun} of {s}.",
    "{s}: what is its {noun}?",
    "Which {noun} does {s} have?",
    "Give the {noun} for {s}.",
    "I need the {noun} of {s}.",
    "What {noun} is listed for {s}?",
    "Please state the {noun} of {s}.",
    # held out from training (see HELDOUT_GENERIC)
    "Do you know the {noun} of {s}?",
    "For {s}, what is the {noun}?",
    "{s} has what {noun}?",
)
HELDOUT_GENERIC = frozenset(GENERIC_QUESTIONS[-3:])
GENERIC_STATEMENTS = ("The {noun} of {s} is {v}.", "{s}'s {noun} is {v}.")


def question_templates(relation: Relation, heldout: bool) -> list[str]:
    """Train (or held-out) templates for a relation: generic ones and its own wh-questions.

    The last relation-specific question of every relation is held out.
    """
    generic = [t for t in GENERIC_QUESTIONS if (t in HELDOUT_GENERIC) == heldout]
    specific = list(relation.questions[-1:] if heldout else relation.questions[:-1])
    return generic + specific


def ask(template: str, fact: Fact, rng: random.Random) -> str:
    relation = RELATIONS[(fact.kind, fact.relation)]
    return template.format(s=fact.entity, noun=rng.choice(relation.nouns))


def state(fact: Fact, rng: random.Random) -> str:
    """One declarative sentence stating the fact, in a random phrasing."""
    relation = RELATIONS[(fact.kind, fact.relation)]
    template = rng.choice(relation.statements + GENERIC_STATEMENTS)
    text = template.format(s=fact.entity, v=fact.value, noun=rng.choice(relation.nouns))
    return text[0].upper() + text[1:]


def paragraph(entity: Entity, rng: random.Random, facts: list[Fact] | None = None) -> str:
    """A short paragraph about the entity: what it is, then its facts in random order."""
    facts = list(entity.facts if facts is None else facts)
    rng.shuffle(facts)
    intro = f"{entity.name} is {KIND_NOUNS[entity.kind]}."
    return " ".join([intro[0].upper() + intro[1:], *(state(f, rng) for f in facts)])


def fact_questions(fact: Fact, n: int, rng: random.Random, heldout: bool = False) -> list[QA]:
    """`n` distinct phrasings (fewer if there are fewer templates) asking for the fact."""
    templates = question_templates(RELATIONS[(fact.kind, fact.relation)], heldout)
    chosen = rng.sample(templates, min(n, len(templates)))
    return [QA(ask(t, fact, rng), fact.value) for t in chosen]


def teaching_set(
    entities: list[Entity], questions_per_fact: int, notes_per_fact: int, seed: int
) -> tuple[list[QA], list[str], list[QA]]:
    """Questions and notes that teach `entities`, and held-out-template questions about them.

    What a synthesis stage would produce for new documents; used to measure the SFT stage.
    """
    rng = random.Random(seed)
    qas, notes, heldout = [], [], []
    for entity in entities:
        for fact in entity.facts:
            qas += fact_questions(fact, questions_per_fact, rng)
            notes += [state(fact, rng) for _ in range(notes_per_fact)]
            heldout += fact_questions(fact, 1, rng, heldout=True)
    return qas, notes, heldout


@dataclass(frozen=True)
class CurriculumConfig:
    """Sizes of the skills curriculum. The defaults fit a ~10 minute build on 2 CPU cores."""

    n_entities: int = field(default=80, metadata={"help": "Invented entities in the world."})
    notes_only_share: float = field(
        default=0.15,
        metadata={
            "help": "Share of entities taught only through notes; their questions are held out."
        },
    )
    reading_share: float = field(
        default=0.2,
        metadata={"help": "Share of entities never taught, only shown in context passages."},
    )
    questions_per_fact: int = field(
        default=4,
        metadata={
            "help": "Closed-book phrasings per taught fact per epoch (drawn anew each epoch)."
        },
    )
    paragraphs_per_entity: int = field(
        default=2, metadata={"help": "Multi-fact paragraphs per entity per epoch."}
    )
    notes_per_fact: int = field(
        default=1, metadata={"help": "Single-sentence notes per fact per epoch."}
    )
    epochs: int = field(default=6, metadata={"help": "Passes over the curriculum."})
    reading_from_epoch: int = field(
        default=4,
        metadata={
            "help": "First epoch (1-based) with reading comprehension; it shows one passage, the "
            "later ones add distractors and unknowns."
        },
    )
    reading_per_epoch: int = field(
        default=0,
        metadata={
            "help": "Reading-comprehension examples per epoch once reading has started. Off by "
            "default: 150 per epoch over 3 epochs left kc-base at 0.00 on held-out reading and "
            "took ~20% of the build's tokens; the context arms read with kc-reader "
            "(`training.reader`). The reading evaluation splits are measured either way."
        },
    )
    max_passages: int = field(default=3, metadata={"help": "Most passages in one context."})
    unknown_share: float = field(
        default=0.08,
        metadata={
            "help": "Share of reading examples whose answer is not in the context (at most 0.1)."
        },
    )
    eval_per_split: int = field(default=60, metadata={"help": "Questions per evaluation split."})
    seed: int = field(default=0, metadata={"help": "Seed of the world and of every sample."})

    def __post_init__(self) -> None:
        if self.n_entities < 10:
            raise ValueError("n_entities must be at least 10 (two of each kind)")
        for name in ("notes_only_share", "reading_share"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in [0, 0.5)")
        if not 0.0 <= self.unknown_share <= 0.1:
            raise ValueError(
                "unknown_share must be in [0, 0.1]: more taught the model to answer "
                "'the context does not say' to nearly everything"
            )
        for name in ("questions_per_fact", "epochs", "max_passages", "eval_per_split"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("paragraphs_per_entity", "notes_per_fact", "reading_per_epoch"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.reading_from_epoch < 1:
            raise ValueError("reading_from_epoch is 1-based and must be at least 1")


class Curriculum:
    """The examples of every epoch, the evaluation sets and a replay pool for later stages."""

    def __init__(self, config: CurriculumConfig) -> None:
        self.config = config
        self.world: World = invent_world(config.seed, config.n_entities)
        entities = list(self.world.entities)
        random.Random(config.seed + 1).shuffle(entities)
        n_reading = max(2, round(config.reading_share * len(entities)))
        n_notes = max(1, round(config.notes_only_share * len(entities)))
        self.reading = entities[:n_reading]
        self.notes_only = entities[n_reading : n_reading + n_notes]
        self.taught = entities[n_reading + n_notes :]
        n_read_eval = max(1, len(self.reading) // 4)
        self.reading_eval, self.reading_train = (
            self.reading[:n_read_eval],
            self.reading[n_read_eval:],
        )

    @cached_property
    def entity_names(self) -> frozenset[str]:
        """Lower-cased names of every entity and person in this world (to keep others apart)."""
        return frozenset(
            n.lower()
            for n in (
                *self.world.people,
                *self.world.services,
                *(e.name for e in self.world.entities),
            )
        )

    def _rng(self, *salt: object) -> random.Random:
        return random.Random(f"{self.config.seed}|" + "|".join(map(str, salt)))

    def closed_book(self, rng: random.Random) -> list[Example]:
        return [
            sft_example(qa)
            for e in self.taught
            for f in e.facts
            for qa in fact_questions(f, self.config.questions_per_fact, rng)
        ]

    def notes(self, rng: random.Random) -> list[Example]:
        out = []
        for entity in self.taught + self.notes_only:
            out += [
                note_example(paragraph(entity, rng))
                for _ in range(self.config.paragraphs_per_entity)
            ]
            out += [
                note_example(state(f, rng))
                for f in entity.facts
                for _ in range(self.config.notes_per_fact)
            ]
        return out

    def reading_qa(
        self,
        entity: Entity,
        pool: list[Entity],
        rng: random.Random,
        distractors: bool,
        unknown: bool,
    ) -> QA:
        """A question about `entity` with its passage (and distractors from `pool`)."""
        facts = list(entity.facts)
        asked = rng.choice(facts)
        shown = [f for f in facts if f is not asked]
        shown = rng.sample(shown, rng.randint(min(1, len(shown)), min(3, len(shown))))
        if not unknown:
            shown.append(asked)
        passages = [paragraph(entity, rng, shown)]
        if distractors:
            others = [e for e in pool if e is not entity]
            same_kind = [e for e in others if e.kind == entity.kind] or others
            k = rng.randint(1, self.config.max_passages - 1) if self.config.max_passages > 1 else 0
            picks = rng.sample(same_kind, min(k, len(same_kind)))
            passages += [paragraph(e, rng, rng.sample(list(e.facts), 3)) for e in picks]
        order = list(range(len(passages)))
        rng.shuffle(order)
        passages = [passages[i] for i in order]
        question = ask(
            rng.choice(question_templates(RELATIONS[(asked.kind, asked.relation)], heldout=False)),
            asked,
            rng,
        )
        if unknown:
            return QA(question, UNKNOWN_ANSWER, tuple(passages), None)
        return QA(question, asked.value, tuple(passages), order.index(0) + 1)

    def reading_examples(self, n: int, rng: random.Random, distractors: bool) -> list[Example]:
        out = []
        for _ in range(n):
            unknown = distractors and rng.random() < self.config.unknown_share
            entity = rng.choice(self.reading_train)
            qa = self.reading_qa(entity, self.reading_train, rng, distractors, unknown)
            out.append(sft_example(qa, kind="unknown" if unknown else "reading"))
        return out

    def epoch(self, index: int) -> list[Example]:
        """The examples of epoch `index` (0-based), shuffled."""
        rng = self._rng("epoch", index)
        examples = self.closed_book(rng) + self.notes(rng)
        first_reading = self.config.reading_from_epoch - 1
        if index >= first_reading and self.config.reading_per_epoch:
            examples += self.reading_examples(
                self.config.reading_per_epoch, rng, distractors=index > first_reading
            )
        rng.shuffle(examples)
        return examples

    def epochs(self) -> list[list[Example]]:
        return [self.epoch(i) for i in range(self.config.epochs)]

    def evaluation_sets(self) -> dict[str, list[QA]]:
        """Held-out measurements, `eval_per_split` questions each (fewer if there are fewer).

        - `train_templates`: taught entities, train templates (what was memorised);
        - `heldout_templates`: taught entities, templates never trained on;
        - `notes_only`: entities seen only in notes, asked closed-book;
        - `reading`: unseen entities, answered from passages with distractors;
        - `reading_unknown`: unseen entities whose passage lacks the asked fact.
        """
        rng = self._rng("eval")
        n = self.config.eval_per_split

        def sample(entities: list[Entity], heldout: bool) -> list[QA]:
            qas = [q for e in entities for f in e.facts for q in fact_questions(f, 1, rng, heldout)]
            return rng.sample(qas, min(n, len(qas)))

        read = [
            self.reading_qa(
                rng.choice(self.reading_eval),
                self.reading_eval + self.reading_train,
                rng,
                distractors=True,
                unknown=False,
            )
            for _ in range(n)
        ]
        unknown = [
            self.reading_qa(
                rng.choice(self.reading_eval),
                self.reading_eval + self.reading_train,
                rng,
                distractors=True,
                unknown=True,
            )
            for _ in range(max(1, n // 4))
        ]
        return {
            "train_templates": sample(self.taught, False),
            "heldout_templates": sample(self.taught, True),
            "notes_only": sample(self.notes_only, False),
            "reading": read,
            "reading_unknown": unknown,
        }

    def replay_pool(self, n: int) -> list[Example]:
        """`n` examples in the curriculum's proportions, for replay in later stages."""
        rng = self._rng("replay")
        pool = self.closed_book(rng) + self.notes(rng)
        if self.config.reading_per_epoch:
            pool += self.reading_examples(self.config.reading_per_epoch, rng, distractors=True)
        return rng.sample(pool, min(n, len(pool)))
