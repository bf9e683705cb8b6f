"""Records that flow through synthesis: chunks in; facts, question-answer pairs and notes out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from training.synthesis.normalize import normalize_question

Split = Literal["train", "eval", "volatile_eval"]


def stable_id(*parts: object, length: int = 24) -> str:
    """Hex id from the parts; the same parts always give the same id."""
    payload = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document, as read from `marts.chunks_for_training` / `chunks_for_index`."""

    chunk_id: str
    document_id: str
    tenant: str
    text: str
    section: str = ""
    path: str = ""
    title: str = ""
    route: str = "static"
    source_id: str = ""
    content_hash: str = ""  # the document version's content hash
    version_number: int | None = None
    acl_groups: tuple[str, ...] = ()
    n_tokens: int = 0
    fact_bits: float | None = None

    @property
    def content_sha(self) -> str:
        """Hash of everything synthesis reads from the chunk: the cache key for its output."""
        payload = json.dumps([self.path, self.title, self.section, self.text])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def context(self) -> str:
        """Human name of where the chunk sits: the section path, else the title, else the path."""
        return self.section or self.title or self.path


@dataclass(frozen=True)
class Fact:
    """One atomic fact: `subject` --`relation`--> `answer`, with the text it came from.

    `answer` keeps the exact surface form found in the chunk; `statement` (sentences only) is
    the clause with `{answer}` where the answer was; `wh` is the question phrase that asks for
    the answer ("how many characters", "who", "which port").
    """

    fact_id: str
    chunk_id: str
    document_id: str
    tenant: str
    kind: str
    subject: str
    relation: str
    answer: str
    evidence: str
    section: str = ""
    answer_type: str = "text"
    wh: str = "what"
    statement: str = ""
    question: str = ""  # a natural question found in the source (FAQ headings) or fronted
    context: str = ""
    path: str = ""
    content_hash: str = ""
    version_number: int | None = None

    @property
    def fact_key(self) -> str:
        """What the fact is about, without its value: equal keys with different answers are
        the same fact changed between two versions of a document."""
        return normalize_question(f"{self.kind}|{self.subject}|{self.relation}")


@dataclass(frozen=True)
class QAPair:
    """A question with its short answer, tied to the fact, chunk and document version."""

    pair_id: str
    fact_id: str
    chunk_id: str
    document_id: str
    tenant: str
    question: str
    answer: str
    family: str
    heldout: bool
    generator_id: str
    content_hash: str = ""
    version_number: int | None = None
    path: str = ""
    section: str = ""
    split: str = ""  # assigned by the pipeline: train | eval | volatile_eval


@dataclass(frozen=True)
class Note:
    """A declarative restatement of a fact, for continued-pretraining style study text."""

    note_id: str
    fact_id: str
    chunk_id: str
    document_id: str
    tenant: str
    text: str
    family: str
    generator_id: str
    content_hash: str = ""
    version_number: int | None = None


@dataclass
class ChunkSynthesis:
    """What a generator made of one chunk; `failures` are reasons, counted, never raised."""

    facts: list[Fact] = field(default_factory=list)
    pairs: list[QAPair] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_payload(self) -> str:
        """JSON of the chunk-independent content, for the generation cache."""
        return json.dumps({"facts": [asdict(f) for f in self.facts],
                           "pairs": [asdict(p) for p in self.pairs],
                           "notes": [asdict(n) for n in self.notes]}, sort_keys=True)

    @classmethod
    def from_payload(cls, payload: str, chunk: Chunk) -> ChunkSynthesis:
        """Rebuild cached output and re-attach it to `chunk` (ids follow the chunk id)."""
        data = json.loads(payload)
        facts = [_restore(Fact, row) for row in data["facts"]]
        pairs = [_restore(QAPair, row) for row in data["pairs"]]
        notes = [_restore(Note, row) for row in data["notes"]]
        return attach(ChunkSynthesis(facts, pairs, notes), chunk)


def _restore(cls: type, row: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


def fact_id_for(chunk_id: str, kind: str, subject: str, relation: str, answer: str) -> str:
    return stable_id("fact", chunk_id, kind, subject, relation, answer)


def attach(result: ChunkSynthesis, chunk: Chunk) -> ChunkSynthesis:
    """Point facts, pairs and notes at `chunk`, recomputing ids so they follow the chunk id.

    A cached result made for the same text under another chunk id (a document version that
    changed elsewhere) is re-used this way without calling the generator again.
    """
    new_ids: dict[str, str] = {}
    facts = []
    for f in result.facts:
        fid = fact_id_for(chunk.chunk_id, f.kind, f.subject, f.relation, f.answer)
        new_ids[f.fact_id] = fid
        facts.append(replace(f, fact_id=fid, chunk_id=chunk.chunk_id,
                             document_id=chunk.document_id, tenant=chunk.tenant,
                             path=chunk.path, content_hash=chunk.content_hash,
                             version_number=chunk.version_number))
    pairs = []
    for p in result.pairs:
        fid = new_ids.get(p.fact_id, p.fact_id)
        pairs.append(replace(p, fact_id=fid, chunk_id=chunk.chunk_id,
                             document_id=chunk.document_id, tenant=chunk.tenant,
                             content_hash=chunk.content_hash, version_number=chunk.version_number,
                             path=chunk.path, section=chunk.section,
                             pair_id=stable_id("pair", fid, p.family, p.question)))
    notes = []
    for n in result.notes:
        fid = new_ids.get(n.fact_id, n.fact_id)
        notes.append(replace(n, fact_id=fid, chunk_id=chunk.chunk_id,
                             document_id=chunk.document_id, tenant=chunk.tenant,
                             content_hash=chunk.content_hash, version_number=chunk.version_number,
                             note_id=stable_id("note", fid, n.family, n.text)))
    return ChunkSynthesis(facts, pairs, notes, list(result.failures))
