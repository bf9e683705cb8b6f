"""Questions as people ask them, written by a model and verified before use.

Template questions teach the template, not the fact: a model trained on "What does <section>
list as the <column> for <row>?" answers that wording and little else (Physics of LMs 3.1: one
wording per fact leaves it barely extractable; several varied wordings make it so). Here a
language model (the base itself, or the optional teacher: a local HF causal LM folder or an
OpenAI-compatible endpoint) writes questions in several styles for each fact, and each question
is kept only when every check passes, in order:

- ``malformed``: empty, too short or too long, or not a question;
- ``answer_in_question``: the question gives its own answer away;
- ``off_topic``: it shares no content word with the fact's evidence (beyond the answer), so
  nothing ties it to this fact;
- ``near_duplicate``: its word shingles overlap a kept question of the fact (templates included)
  by ``near_duplicate_jaccard`` or more;
- ``unanswerable``: the reader, shown the fact's evidence, does not answer it with the fact's
  answer (round trip; skipped when no reader is given).

Generations are cached in ``qa.natural_questions`` by (chunk content hash, fact, prompt version,
writer), so an unchanged chunk costs nothing on the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from training.synthesis.models import Fact, QAPair, stable_id
from training.synthesis.normalize import (
    answer_tokens,
    clean,
    contains_tokens,
    normalize_question,
)
from training.synthesis.store import now

log = logging.getLogger(__name__)

PROMPT_VERSION = "natural-v2"

# Few-shot examples per style, on made-up facts of no tenant: a 135M instruct model follows a
# pattern far better than an instruction. Each shot is (evidence, answer, question).
STYLE_SHOTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "direct": (
        ("Parking permits: issued by Maria Lopez", "Maria Lopez",
         "Who issues parking permits?"),
        ("Job retries: max_attempts 3", "3",
         "How many times is a job retried before it fails?"),
        ("Vendor Acme Freight: payment terms net 45", "net 45",
         "What payment terms do we have with Acme Freight?"),
    ),
    "howto": (
        ("Signing key rotation: run keyctl rotate --all", "keyctl rotate --all",
         "How do I rotate the signing key?"),
        ("Expense claims: submitted through the Concur portal", "the Concur portal",
         "How do I submit an expense claim?"),
        ("Client timeout: set with the timeout argument", "timeout",
         "How can I change the client timeout?"),
    ),
    "troubleshoot": (
        ("Uploads failing with 413: raise client_max_body_size", "client_max_body_size",
         "My uploads fail with a 413 error, what should I change?"),
        ("VPN dropping every hour: renew the certificate", "renew the certificate",
         "The VPN keeps disconnecting, how do I fix it?"),
        ("Invoice not sent: check the billing queue", "the billing queue",
         "An invoice was not sent, where should I look?"),
    ),
    "which": (
        ("Client: timeout option sets how long to wait", "timeout",
         "Which option controls how long the client waits?"),
        ("Laptop refresh: every 3 years", "every 3 years",
         "How often do we get a new laptop?"),
        ("Deploys: approved by the release manager", "the release manager",
         "Which role approves a deploy?"),
    ),
    "reverse": (
        ("Parking permits: issued by Maria Lopez", "Maria Lopez",
         "What is Maria Lopez responsible for?"),
        ("Connection pooling: done by the Client class", "Client",
         "What does the Client class do?"),
        ("Quarterly report: owned by Finance Operations", "Finance Operations",
         "What does Finance Operations own?"),
    ),
}

_QUESTION_WORDS = re.compile(r"^(who|what|which|when|where|why|how|is|are|can|do|does|should|"
                             r"my|i|if|in|for|to|at|on|under)\b", re.I)
_STOPWORDS = frozenset(
    "a an the of to in on at for by with and or is are was were be been it its this that these "
    "those what which who whom when where why how do does did can could should would will i my "
    "we our you your they their there here as from into about than then so if not no any all "
    "each per have has had get set use used using".split())


@dataclass
class NaturalQuestionConfig:
    """Whether a model writes questions, which, which styles, how many, and how strict the
    checks are (kc.yaml `training.natural`)."""

    enabled: bool = field(default=False, metadata={
        "help": "Write questions with a model for the facts the training budget takes. Off by "
                "default: SmolLM2-135M kept 1.5% of what it wrote (README, issue 18's note); "
                "turn it on with a stronger writer."})
    writer: str = field(default="base", metadata={
        "help": "'base' (the base model), 'teacher' (training.teacher's endpoint or local "
                "model) or the folder of any local Hugging Face causal LM."})
    max_facts: int | None = field(default=None, metadata={
        "help": "Facts to write for, in the budget's order; null: as many as "
                "max_train_pairs / max_pairs_per_fact takes."})
    min_share_kept: float = field(default=0.02, metadata={
        "help": "The `natural_question_yield` check fails below this share kept."})
    styles: tuple[str, ...] = field(default=("direct", "howto", "which", "reverse"), metadata={
        "help": "Question styles to write, from STYLE_SHOTS ('reverse' only where the answer is "
                "a name)."})
    samples_per_style: int = field(default=2, metadata={
        "help": "Questions sampled per (fact, style); duplicates are dropped."})
    max_new_tokens: int = field(default=32, metadata={"help": "Longest question, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature."})
    batch_size: int = field(default=16, metadata={"help": "Prompts per generation batch."})
    near_duplicate_jaccard: float = field(default=0.7, metadata={
        "help": "Word-bigram Jaccard at or above which two questions count as one."})
    verify_by_reading: bool = field(default=True, metadata={
        "help": "Keep a question only if the reader, shown the evidence, answers it right."})

    def __post_init__(self) -> None:
        unknown = sorted(set(self.styles) - set(STYLE_SHOTS))
        if unknown or not self.styles:
            raise ValueError(f"styles must be a non-empty subset of {sorted(STYLE_SHOTS)}, "
                             f"got unknown {unknown}")
        if self.samples_per_style < 1 or self.batch_size < 1 or self.max_new_tokens < 4:
            raise ValueError("samples_per_style and batch_size must be >= 1, max_new_tokens >= 4")
        if not 0.0 < self.near_duplicate_jaccard <= 1.0:
            raise ValueError("near_duplicate_jaccard must be within (0, 1]")
        if not 0.0 <= self.min_share_kept <= 1.0:
            raise ValueError("min_share_kept must be within [0, 1]")
        if self.max_facts is not None and self.max_facts < 1:
            raise ValueError("max_facts must be >= 1 or null")
        self.styles = tuple(self.styles)

    def fingerprint(self) -> str:
        """The prompt version and every setting that changes what is written or kept: the
        cache key beside the writer's id."""
        keys = ("styles", "samples_per_style", "max_new_tokens", "temperature",
                "near_duplicate_jaccard", "verify_by_reading")
        payload = json.dumps([PROMPT_VERSION, *(getattr(self, k) for k in keys)])
        return f"{PROMPT_VERSION}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


@dataclass
class NaturalPlan:
    """Who writes, who checks, and for how many facts: `max_facts` facts in the seeded order
    that `fact_order` gives (the order the training budget takes facts in), None for all."""

    writer: QuestionWriter
    config: NaturalQuestionConfig
    reader: Reader | None = None
    max_facts: int | None = None
    seed: int = 0


def fact_order(fact_ids: Sequence[str], seed: int) -> list[str]:
    """The seeded order in which a training budget takes whole facts; question writing follows
    it, so the facts that get natural questions are the ones a capped budget trains on."""
    import random

    ordered = sorted(set(fact_ids))
    random.Random(seed).shuffle(ordered)
    return ordered


class QuestionWriter(Protocol):
    """Writes `n` continuations of each few-shot prompt."""

    writer_id: str

    def write(self, prompts: Sequence[str], n: int) -> list[list[str]]: ...


Reader = Callable[[Sequence[str], Sequence[str]], list[str]]
"""(questions, evidence texts) -> answers: the round-trip check."""


def fact_line(fact: Fact) -> str:
    """The fact as one short "topic: value" line like the shots: subject, relation, answer."""
    subject = clean(fact.subject) or clean(fact.section)
    relation = clean(fact.relation).replace("_", " ")
    if relation and relation.lower() not in subject.lower():
        return f"{subject}: {relation} {clean(fact.answer)}"
    return f"{subject}: {clean(fact.answer)}"


def style_prompt(style: str, fact: Fact) -> str:
    shots = "".join(f"Fact: {e}\nAnswer: {a}\nQuestion: {q}\n\n"
                    for e, a, q in STYLE_SHOTS[style])
    return f"{shots}Fact: {fact_line(fact)}\nAnswer: {clean(fact.answer)}\nQuestion:"


def styles_for(fact: Fact, styles: Sequence[str]) -> list[str]:
    """'reverse' asks about a name; other answers (amounts, dates, options) skip it."""
    named = fact.answer_type in ("person", "name") or (
        fact.answer[:1].isupper() and len(fact.answer.split()) <= 4
        and not any(ch.isdigit() for ch in fact.answer))
    return [s for s in styles if s != "reverse" or named]


def first_question(text: str) -> str:
    """The first line of a continuation, cut after its first question mark."""
    line = text.strip().split("\n", 1)[0].strip()
    mark = line.find("?")
    return line[:mark + 1].strip() if mark >= 0 else line


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9_]+", text.lower())
            if len(w) >= 3 and w not in _STOPWORDS}


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = normalize_question(text).split()
    return {tuple(words[i:i + 2]) for i in range(max(1, len(words) - 1))}


def jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def precheck(question: str, fact: Fact, kept: Sequence[str], threshold: float) -> str | None:
    """The reason a written question is refused before the round trip, or None."""
    words = question.split()
    if not question.endswith("?") or not 3 <= len(words) <= 30 or \
            not _QUESTION_WORDS.match(question):
        return "malformed"
    answer = answer_tokens(fact.answer)
    if answer and contains_tokens(answer_tokens(question), answer):
        return "answer_in_question"
    anchors = _content_words(f"{fact.evidence} {fact.subject} {fact.context}") - \
        _content_words(fact.answer)
    if not _content_words(question) & anchors:
        return "off_topic"
    if any(jaccard(question, other) >= threshold for other in kept):
        return "near_duplicate"
    return None


@dataclass
class WrittenQuestion:
    fact_id: str
    style: str
    question: str


@dataclass
class NaturalYield:
    """What the writer proposed and what each check refused, for the asset check."""

    facts: int = 0
    covered: int = 0  # facts with at least one kept question
    proposed: int = 0
    kept: int = 0
    cached_facts: int = 0
    dropped: Counter = field(default_factory=Counter)
    styles: Counter = field(default_factory=Counter)  # facts with >= 1 kept question per style

    @property
    def share_kept(self) -> float:
        return self.kept / self.proposed if self.proposed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"facts": self.facts, "facts_with_questions": self.covered,
                "proposed": self.proposed, "kept": self.kept,
                "share_kept": round(self.share_kept, 3), "cached_facts": self.cached_facts,
                "dropped": dict(self.dropped), "facts_per_style": dict(self.styles)}


def ensure_cache(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists qa")
    con.execute("""create table if not exists qa.natural_questions (
        content_sha varchar, fact_id varchar, prompt_version varchar, writer_id varchar,
        payload varchar, created_at timestamptz,
        primary key (content_sha, fact_id, prompt_version, writer_id))""")


def _cached(con: duckdb.DuckDBPyConnection, facts: Sequence[tuple[Fact, str]], writer_id: str,
            version: str) -> dict[str, dict]:
    if not facts:
        return {}
    rows = con.execute(
        "select fact_id, payload from qa.natural_questions where prompt_version = ? and "
        "writer_id = ? and fact_id in (select unnest(?)) and content_sha in (select unnest(?))",
        [version, writer_id, [f.fact_id for f, _ in facts],
         sorted({sha for _, sha in facts})]).fetchall()
    return {fid: json.loads(payload) for fid, payload in rows}


def write_natural_questions(
    con: duckdb.DuckDBPyConnection, facts: Sequence[tuple[Fact, str]],
    existing: dict[str, list[str]], writer: QuestionWriter, config: NaturalQuestionConfig,
    reader: Reader | None = None, progress: Callable[[int, int], None] | None = None,
) -> tuple[list[WrittenQuestion], NaturalYield]:
    """Write, check and cache questions for `facts` ((fact, chunk content sha) pairs).

    `existing[fact_id]` are the fact's template questions: a written question too close to one
    of them adds no new wording and is dropped as a near duplicate.
    """
    ensure_cache(con)
    result = NaturalYield(facts=len(facts))
    version = config.fingerprint()
    cached = _cached(con, facts, writer.writer_id, version)
    todo = [(f, sha) for f, sha in facts if f.fact_id not in cached]
    result.cached_facts = len(facts) - len(todo)
    fresh = _write(todo, existing, writer, config, reader, progress)
    rows = [(sha, f.fact_id, version, writer.writer_id, json.dumps(fresh[f.fact_id]), now())
            for f, sha in todo]
    if rows:
        con.executemany("insert or replace into qa.natural_questions values (?, ?, ?, ?, ?, ?)",
                        rows)
    out: list[WrittenQuestion] = []
    for fact, _sha in facts:
        entry = cached.get(fact.fact_id) or fresh[fact.fact_id]
        result.proposed += entry["proposed"]
        result.dropped.update(entry["dropped"])
        kept = [WrittenQuestion(fact.fact_id, style, q) for style, q in entry["kept"]]
        result.kept += len(kept)
        result.styles.update({style for style, _ in entry["kept"]})
        result.covered += bool(kept)
        out.extend(kept)
    return out, result


def _write(facts: Sequence[tuple[Fact, str]], existing: dict[str, list[str]],
           writer: QuestionWriter, config: NaturalQuestionConfig, reader: Reader | None,
           progress: Callable[[int, int], None] | None) -> dict[str, dict]:
    jobs = [(fact, style) for fact, _ in facts for style in styles_for(fact, config.styles)]
    written: list[list[str]] = []
    for start in range(0, len(jobs), config.batch_size):
        batch = jobs[start:start + config.batch_size]
        written.extend(writer.write([style_prompt(s, f) for f, s in batch],
                                    config.samples_per_style))
        if progress is not None:
            progress(min(start + config.batch_size, len(jobs)), len(jobs))
    entries = {f.fact_id: {"proposed": 0, "dropped": Counter(), "kept": []} for f, _ in facts}
    candidates: list[tuple[Fact, str, str]] = []
    seen: dict[str, list[str]] = {}  # per fact: its templates, then the questions let through
    for (fact, style), texts in zip(jobs, written, strict=True):
        entry = entries[fact.fact_id]
        for text in texts:
            question = first_question(text)
            entry["proposed"] += 1
            taken = seen.setdefault(fact.fact_id, list(existing.get(fact.fact_id, [])))
            reason = precheck(question, fact, taken, config.near_duplicate_jaccard)
            if reason:
                entry["dropped"][reason] += 1
            else:
                taken.append(question)
                candidates.append((fact, style, question))
    answers = reader([q for _f, _s, q in candidates], [f.evidence for f, _s, _q in candidates]) \
        if reader is not None and config.verify_by_reading and candidates else None
    for i, (fact, style, question) in enumerate(candidates):
        if answers is not None and not _answers(answers[i], fact.answer):
            entries[fact.fact_id]["dropped"]["unanswerable"] += 1
        else:
            entries[fact.fact_id]["kept"].append((style, question))
    return {fid: {**e, "dropped": dict(e["dropped"])} for fid, e in entries.items()}


def _answers(prediction: str, gold: str) -> bool:
    gold_tokens = answer_tokens(gold)
    return bool(gold_tokens) and contains_tokens(answer_tokens(prediction), gold_tokens)


def natural_pairs(written: Sequence[WrittenQuestion], facts: dict[str, Fact],
                  template: dict[str, QAPair], generator_id: str) -> list[QAPair]:
    """Training pairs of the kept questions, tied to their fact's chunk and version like the
    template pair they stand beside."""
    out = []
    for w in written:
        fact, like = facts[w.fact_id], template[w.fact_id]
        out.append(QAPair(
            pair_id=stable_id("natural", w.fact_id, normalize_question(w.question)),
            fact_id=w.fact_id, chunk_id=fact.chunk_id, document_id=fact.document_id,
            tenant=fact.tenant, question=w.question, answer=fact.answer,
            family=f"natural_{w.style}", heldout=False, generator_id=generator_id,
            content_hash=like.content_hash, version_number=like.version_number, path=like.path,
            section=like.section, split="train"))
    return out

