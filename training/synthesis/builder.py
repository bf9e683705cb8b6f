"""Collects the facts of one chunk, refusing the ones no question should be built from."""

from __future__ import annotations

import re

from training.synthesis.models import Chunk, Fact, fact_id_for
from training.synthesis.normalize import (
    answer_tokens,
    clean,
    contains_tokens,
    has_placeholder,
    normalize_answer,
    strip_answer,
)

PERSON_WORDS = frozenset(
    "owner lead manager chair author commander approver engineer contact maintainer head "
    "deciders attendees reporter auditor reviewer accountable responsible director officer pm "
    "primary secondary escalation approvers engineers".split())
NAME_RE = re.compile(r"^[A-Z][a-zA-Z'-]+(?: (?:[A-Z][a-zA-Z'-]+|de|van|der|da|di)){1,3}$")


def document_name(path: str) -> str:
    """Readable name from a file path: "postmortems/INC-4512-gateway-outage.pdf" ->
    "INC-4512 gateway outage"."""
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0] if path else ""
    stem = re.sub(r"(?<=[A-Z]{2})-(?=\d)", "\x00", stem)  # keep codes like INC-4512 whole
    return re.sub(r"[-_]+", " ", stem).replace("\x00", "-").strip() or path


def clean_context(section: str, fallback: str) -> str:
    """The section path without parts that are no heading (a sentence the parser took for
    one: "Owner: Tomasz Nowak. Reviewed 2026-01-07."); `fallback` when nothing is left."""
    parts = [p.strip() for p in section.split(" > ") if p.strip()]
    good = [p for p in parts if len(p.split()) <= 10 and not p.endswith(".") and ". " not in p
            and p not in good_seen(parts, p)]
    return " > ".join(good) if good else fallback


def good_seen(parts: list[str], part: str) -> list[str]:
    """Earlier duplicates of `part` ("billing/cli.py > billing/cli.py > main")."""
    return parts[:parts.index(part)] if part in parts else []


def looks_like_person(value: str) -> bool:
    """Two to four capitalised words, as personal names are written: "Mei Lin Chen"."""
    return bool(NAME_RE.match(value.strip()))


def person_relation(relation: str) -> bool:
    words = set(re.findall(r"[a-z]+", relation.lower()))
    return bool(words & PERSON_WORDS)


class FactBuilder:
    """Builds `Fact`s for one chunk; drops empty, redacted and over-long answers and repeats."""

    def __init__(self, chunk: Chunk, *, max_answer_words: int = 12,
                 max_definition_words: int = 30) -> None:
        self.chunk = chunk
        self.max_answer_words = max_answer_words
        self.max_definition_words = max_definition_words
        self.facts: list[Fact] = []
        self.rejected: dict[str, int] = {}
        self._seen: set[tuple[str, str, str, str]] = set()
        self.document_name = document_name(chunk.path)
        # Titles of PDFs are often the first heading found, so sections and file names win.
        self.context = clean_context(chunk.section, self.document_name)
        self.title = self.context.split(" > ")[0]

    def _reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def add(self, kind: str, subject: str, relation: str, answer: str, evidence: str, *,
            answer_type: str = "text", wh: str = "what", statement: str = "",
            question: str = "", context: str | None = None, long_answer: bool = False) -> None:
        answer = strip_answer(answer)
        subject = clean(subject).strip(" .:;,")
        relation = clean(relation).strip(" .:;,")
        evidence = clean(evidence)
        if not answer or not answer_tokens(answer) or not subject:
            self._reject("empty")
            return
        if any(has_placeholder(t) for t in (answer, subject, relation, evidence, statement)):
            self._reject("placeholder")
            return
        limit = self.max_definition_words if long_answer else self.max_answer_words
        if len(answer.split()) > limit:
            self._reject("answer_too_long")
            return
        if not statement and contains_tokens(answer_tokens(subject), answer_tokens(answer)):
            self._reject("answer_in_subject")  # the question would give the answer away
            return
        key = (kind, subject.lower(), relation.lower(), normalize_answer(answer))
        if key in self._seen:
            return
        self._seen.add(key)
        c = self.chunk
        self.facts.append(Fact(
            fact_id=fact_id_for(c.chunk_id, kind, subject, relation, answer),
            chunk_id=c.chunk_id, document_id=c.document_id, tenant=c.tenant, kind=kind,
            subject=subject, relation=relation, answer=answer, evidence=evidence,
            section=c.section, answer_type=answer_type, wh=wh, statement=statement,
            question=question, context=self.context if context is None else context,
            path=c.path, content_hash=c.content_hash, version_number=c.version_number))
