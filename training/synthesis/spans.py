"""Typed answer spans in a clause: amounts, durations, dates, codes, identifiers and names.

Each span says which part of the clause a question replaces (`start`, `end`), the short answer
(`answer`), its type and the question phrase that asks for it (`wh`): in "accepts SSH on port
2222" the span "port 2222" is asked as "which port" and answered "2222".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
WORD_NUM = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
            r"|thirty|forty|fifty|sixty|ninety|hundred")
MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November"
          r"|December")
WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
UNITS = (r"milliseconds?|ms|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?"
         r"|years?|quarters?")
LABELS = (r"port|version|level|tier|account|form|code|step|phase|release|build|room|extension"
          r"|contract|ticket|article|section|rule|clause|floor|channel")
CATEGORIES = (r"password manager|tool|server|service|bucket|cluster|database|topic|channel"
              r"|header|engine|portal|system|repository|repo|extension|board|project|library"
              r"|registry|queue|table|app|command|provider|module|framework|platform|mailbox")
PERSON_CUES = frozenset(
    "by owner owners lead manager chair chaired commander author authors approver approvers "
    "contact maintainer maintainers engineer engineers deciders attendees reported maintained "
    "prepared assigned led head cfo ceo cto vp director pm auditor reviewer reviewers "
    "accountable responsible secondary primary escalation".split())
# Capitalised words that are no name on their own in mid-sentence.
NOT_NAMES = frozenset(
    "The A An This That These Those It Its If When While Then Use Run See Every Each All Any "
    "No Not Only And Or But For From To In On At Of By With As Up Out Per Via Before After "
    "Until Since During Within Without About Above Below Between Under Over".split())
CATEGORY_STOP = frozenset(
    "same new old main primary internal public private shared default local legacy whole "
    "entire following above below other only current next previous first last standard "
    "central right correct incident status production staging test build release deploy data "
    "company team customer user this that our their its one each every any".split())


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    answer: str
    type: str
    wh: str


def _label_wh(label: str) -> str:
    return f"which {label.lower()}"


def _plural_noun(phrase: str) -> bool:
    last = phrase.split()[-1] if phrase.split() else ""
    return (len(last) > 3 and last.endswith("s") and not last.endswith("ss")
            and last not in {"this", "does", "was", "has", "its", "plus", "status", "always",
                             "across", "previous", "various", "versus", "thus", "less"})


def _matches(text: str) -> list[tuple[int, Span]]:
    """Every candidate span with its priority (lower wins on overlap)."""
    out: list[tuple[int, Span]] = []

    def add(prio: int, m: re.Match[str], kind: str, wh: str, group: int = 0) -> None:
        answer = m.group(group).strip()
        out.append((prio, Span(m.start(), m.end(), answer, kind, wh)))

    for m in re.finditer(rf"\b(?:GL\s+)?({LABELS})\s+(#?[A-Z0-9][\w.-]*\d[\w.-]*|\d[\w.-]*)",
                         text, re.I):
        value = m.group(2).rstrip(".-")
        out.append((0, Span(m.start(), m.start(2) + len(value), value, "code",
                            _label_wh(m.group(1)))))
    for m in re.finditer(r"\b\d{1,2}:\d{2}\s*(?:to|-|and|until)\s*\d{1,2}:\d{2}"
                         r"(?:\s*(?:UTC|GMT|CET|Eastern|local time))?", text):
        add(1, m, "time", "during which hours")
    for m in re.finditer(rf"\b(?:{WEEKDAYS})\s+(?:to|-|through)\s+(?:{WEEKDAYS})\b", text):
        add(1, m, "date", "on which days")
    for m in re.finditer(r"\b\d{4}-\d{2}-\d{2}\b", text):
        add(2, m, "date", "on what date")
    for m in re.finditer(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b"
                         rf"(?:\s+\d{{4}})?|\b(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
                         rf"(?:,?\s+\d{{4}})?", text):
        add(2, m, "date", "on what date")
    for m in re.finditer(r"\b\d{1,2}(?:st|nd|rd|th)\s+of\s+(?:the|each|every)\s+month\b", text):
        add(2, m, "date", "on which day of the month")
    for m in re.finditer(rf"\b(?:{MONTHS})(?:\s+and\s+(?:{MONTHS}))?\b", text):
        add(3, m, "date", "in which month" if " and " not in m.group(0) else "in which months")
    for m in re.finditer(rf"\b(?:{WEEKDAYS})s?\b", text):
        add(3, m, "date", "on which day")
    for m in re.finditer(r"\b\d{1,2}:\d{2}(?:\s*(?:UTC|GMT|CET|Eastern|ET|am|pm)\b)?", text):
        add(3, m, "time", "at what time")
    for m in re.finditer(rf"[$€£]\s?(?:{NUM})(?:\s?(?:million|billion|k|bn)\b)?"
                         rf"(?:\s+per\s+(?:calendar\s+|business\s+|working\s+)?[a-z]+)?", text):
        add(4, m, "money", "how much")
    for m in re.finditer(rf"(?:{NUM})\s?%|\b(?:{NUM})\s+percent\b", text):
        add(5, m, "percent", "what percentage")
    for m in re.finditer(rf"\b(every\s+)?(?:{NUM}|{WORD_NUM})(?:-|\s+)(?:business\s+|working\s+"
                         rf"|calendar\s+)?(?:{UNITS})\b(\s+per\s+(?:year|month|week|day))?",
                         text, re.I):
        if m.group(1):
            wh = "how often"
        elif m.group(2):
            unit = m.group(0).split()[-3] if len(m.group(0).split()) >= 3 else "units"
            wh = f"how many {unit}{m.group(2)}"
        else:
            wh = "how long"
        add(6, m, "duration", wh)
    for m in re.finditer(r"\b([A-Z][A-Za-z+#]*[A-Z][A-Za-z]*|[A-Z][a-z]+)(?:\s[A-Z][a-z]+)?"
                         r"\s(\d+\.\d+(?:\.\d+)?)\b|\b([A-Z][a-z]*[A-Z][A-Za-z]*)\s(\d{1,3})\b",
                         text):
        add(7, m, "version", "what")
    for m in re.finditer(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b|\b[A-Z]{1,5}\d+[A-Z0-9]*\b"
                         r"|\b[A-Z]{2,5}\s\d{3,5}\b|\bNet\s\d{1,3}\b", text):
        if any(c.isdigit() for c in m.group(0)) or m.group(0).count("-") >= 2:
            add(8, m, "code", "what payment terms" if m.group(0).startswith("Net")
                else "which code")
    for m in re.finditer(r"\b[A-Z][a-z]*(?:-[A-Z][A-Za-z]*)+\b(\s+header\b)?", text):
        ident = m.group(0).split()[0]
        out.append((9, Span(m.start(), m.end(), ident, "identifier",
                            "which header" if m.group(1) else "what")))
    for m in re.finditer(rf"\bthe\s+([A-Za-z#][\w.#-]*)\s+({CATEGORIES})\b", text):
        word = m.group(1)
        if word.lower() not in CATEGORY_STOP:
            out.append((10, Span(m.start(), m.end(), word, "identifier",
                                 f"which {m.group(2)}")))
    for m in re.finditer(r"(?<![\w/.#@-])#?[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+(?![\w/@-])"
                         r"|(?<![\w#])#[a-z][\w-]+", text):
        tok = m.group(0)
        compound = tok.count("-") >= 2 and not set(tok.split("-")) & {"to", "and", "of", "by",
                                                                       "in", "on", "the", "a"}
        if (tok.startswith("#") or any(c.isdigit() for c in tok) or "_" in tok or compound
                or re.search(r"[a-z]{2,}\.[a-z]{2,}", tok)):
            add(11, m, "identifier", "what")
    for m in re.finditer(rf"\b(?:{NUM})\s+([a-z][a-z-]+)(\s+[a-z][a-z-]+)?\b", text):
        if re.match(r"(19|20)\d\d\b", m.group(0)):
            continue
        end = m.end() if m.group(2) and _plural_noun(m.group(2)) else m.end(1)
        phrase = text[m.start():end]
        if _plural_noun(phrase):
            noun = phrase.split(maxsplit=1)[1]
            out.append((12, Span(m.start(), end, phrase, "count", f"how many {noun}")))
    word = r"(?:[A-Z][a-z]*[A-Z][A-Za-z]*|[A-Z][a-z]+)\b"
    for m in re.finditer(rf"\b{word}(?:\s+(?:and\s+|of\s+|de\s+|van\s+)?(?:{word}|LLP\b|Inc\b"
                         rf"|Ltd\b|LLC\b|GmbH\b))*", text):
        _add_name(out, text, m)
    for m in re.finditer(rf"(?<![\w.,$/-])(?:{NUM})(?!\.?\d|[\w,%/-]|\s?%)", text):
        if not re.fullmatch(r"(19|20)\d\d", m.group(0)):
            add(14, m, "number", "what number")
    return out


def _add_name(out: list[tuple[int, Span]], text: str, m: re.Match[str]) -> None:
    words = m.group(0).split()
    while words and words[0] in NOT_NAMES:
        words = words[1:]
    if not words:
        return
    name = " ".join(words)
    start = m.start() + m.group(0).index(words[0])
    at_clause_start = not text[:start].strip() or text[:start].rstrip()[-1:] in ":-(;"
    if at_clause_start or (len(words) == 1 and (name.isupper() or len(name) <= 4)):
        return
    before = re.findall(r"[a-z]+", text[max(0, start - 40):start].lower())[-3:]
    wh = "who" if PERSON_CUES.intersection(before) else "what"
    out.append((13, Span(start, start + len(name), name, "name", wh)))


def find_spans(text: str, *, limit: int = 3) -> list[Span]:
    """Non-overlapping answer spans of `text`, best first by type, at most `limit`.

    >>> [(s.answer, s.wh) for s in find_spans("The bastion accepts SSH on port 2222.")]
    [('2222', 'which port')]
    """
    chosen: list[Span] = []
    for _prio, span in sorted(_matches(text), key=lambda ps: (ps[0], ps[1].start)):
        if not span.answer or any(span.start < c.end and c.start < span.end for c in chosen):
            continue
        chosen.append(span)
    return sorted(chosen, key=lambda s: _rank(s))[:limit]


_TYPE_RANK = {"money": 0, "percent": 0, "duration": 0, "count": 1, "code": 1, "time": 1,
              "date": 2, "version": 2, "identifier": 2, "name": 3, "number": 4}


def _rank(span: Span) -> tuple[int, int]:
    return (_TYPE_RANK.get(span.type, 5), span.start)


def classify_value(value: str) -> tuple[str, str]:
    """(type, wh) for a whole value, e.g. a table cell or the right side of `Key: value`."""
    spans = [s for _p, s in _matches(value)]
    stripped = value.strip()
    for span in sorted(spans, key=lambda s: _TYPE_RANK.get(s.type, 5)):
        if span.start == 0 and span.end >= len(stripped) - 1:
            return span.type, span.wh
    return "text", "what"
