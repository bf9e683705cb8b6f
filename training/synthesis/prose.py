"""Facts from prose: `Key: value` lines, definitions, FAQ headings and typed spans in clauses."""

from __future__ import annotations

import re

from training.synthesis.builder import FactBuilder, looks_like_person, person_relation
from training.synthesis.normalize import clean, lower_first, upper_first
from training.synthesis.spans import Span, classify_value, find_spans

ABBREVIATIONS = frozenset("e.g i.e etc vs inc ltd dr mr ms mrs no approx fig al st".split())
AUX = frozenset("is are was were must can could may might will would should shall has have had "
                "do does did".split())
VERBS = frozenset(
    "run expire start last take use get need go cost require apply accept receive contain "
    "keep ship hold post listen live close open begin end cover match allow carry pay earn "
    "follow return reach give send stay lock mean handle store support come move poll cap "
    "fail retain publish restart renew refresh rotate trigger escalate release approve list "
    "reset sync retry charge issue own lead chair expect enforce cache sign reject travel "
    "delegate fall count vest accrue".split())
PREPOSITIONS = frozenset("on in at by for from to within after before until during of with "
                         "under over above below".split())
KV_RE = re.compile(r"^(?P<key>[A-Za-z#][^:]{0,70}?)\s*:\s+(?P<value>\S.*)$")
HEADING_PREFIX_RE = re.compile(r"^([A-Z][A-Za-z()/&' -]{2,40}?) - (?=[A-Z])")
CLAUSE_SPLIT_RE = re.compile(
    r"\s*;\s*|,?\s+(?:and|but|while|whereas)\s+(?=(?:the|a|an|all|each|every|it|they|we|its"
    r"|their|no)\b)")
DEFINITION_RE = re.compile(r"^(?P<term>.{2,60}?)\s+(?:means|is defined as|refers to|stands for)"
                           r"\s+(?P<definition>.+)$")
SHELL_RE = re.compile(r"^\$?\s*(?:python3?|pip|npm|npx|make|git|docker|kubectl|curl|export|cd|aws"
                      r"|sudo|bash|sh|uv|poetry|helm|terraform)\s")
GENERIC_KEYS = frozenset("note notes see example examples warning tip important todo".split())


def split_sentences(line: str) -> list[str]:
    """Sentences of one line; keeps abbreviations, decimals and initials together."""
    out, start = [], 0
    for m in re.finditer(r"[.!?](?=\s+[A-Z0-9\"'(\[#$])", line):
        word = re.findall(r"[\w.]+$", line[start:m.start()])
        last = word[0].lower() if word else ""
        if last in ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue
        out.append(line[start:m.end()].strip())
        start = m.end()
    tail = line[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def _has_verb(text: str) -> bool:
    for word in re.findall(r"(?<![\w-])[a-z]+(?![\w-])", text)[:10]:
        if word in AUX or word in VERBS or (word.endswith("s") and word[:-1] in VERBS) or (
                word.endswith("ed") and len(word) > 4):
            return True
    return False


def split_clauses(sentence: str) -> list[str]:
    """Clauses joined by ";" or ", and the ..." when both sides have a verb of their own."""
    parts = [p.strip(" ,") for p in CLAUSE_SPLIT_RE.split(sentence)]
    out: list[str] = []
    for part in (p for p in parts if p):
        if out and not (_has_verb(part) and _has_verb(out[-1])):
            joiner = "; " if f"{out[-1]}; {part}" in sentence else " and "
            out[-1] = f"{out[-1]}{joiner}{part}"
        else:
            out.append(part)
    return out


def proper_words(text: str) -> frozenset[str]:
    """Words written capitalised after a lower-case word: names, not sentence starts."""
    return frozenset(m.group(1) for m in re.finditer(r"[a-z,] ([A-Z][a-z]+)", text))


def sentence_like(text: str) -> bool:
    words = re.findall(r"[A-Za-z][\w'-]*|\S+", text)
    if len(words) < 3:
        return False
    lower = sum(1 for w in words if re.fullmatch(r"[a-z][a-z'-]*", w))
    return lower >= 1 and lower / len(words) >= 0.2


def _join_wh(prefix: str, wh: str) -> str:
    """`prefix` + `wh` without a doubled preposition ("starts on" + "on what date")."""
    first = wh.split(" ", 1)[0]
    last = prefix.rsplit(" ", 1)[-1].lower() if prefix else ""
    if first in PREPOSITIONS and last in PREPOSITIONS:
        wh = wh.split(" ", 1)[1]
    return f"{prefix} {wh}".strip()


def render_statement(template: str, fill: str) -> str:
    """Put `fill` where the statement marks the answer's place (`[[...]]`)."""
    return re.sub(r"\[\[.*?\]\]", lambda _m: fill, template)


def echo_question(statement: str, wh: str) -> str:
    """'Passwords must be at least [[{answer}]] long' -> '... at least how many ... long?'"""
    before, _, after = statement.partition("[[")
    after = after.split("]]", 1)[1] if "]]" in after else ""
    head = _join_wh(before.strip(), wh)
    text = re.sub(r"\s+([,;:])", r"\1", f"{head} {after.strip()}").strip().rstrip(".")
    return upper_first(text) + "?"


def fronted_question(prefix: str, wh: str, proper: frozenset[str]) -> str:
    """Move the question phrase to the front when the answer ends the clause.

    "Security logs are retained for" + "how long" -> "How long are security logs retained
    for?"; "The topic has" + "how many partitions" -> "How many partitions does the topic have?"
    Returns "" when no auxiliary or known verb marks where the subject ends.
    """
    words = prefix.split()
    if wh.split(" ", 1)[0] in PREPOSITIONS and words and words[-1].lower() in PREPOSITIONS:
        words = words[:-1]
    for i, word in enumerate(words[1:9], start=1):
        low = word.lower()
        subject = lower_first(" ".join(words[:i]), proper)
        rest = " ".join(words[i + 1:])
        if "," in subject:
            return ""
        if low in {"has", "have", "had"} and (not rest or not re.search(r"(ed|en)$", words[i + 1])):
            do = {"has": "does", "have": "do", "had": "did"}[low]
            return upper_first(f"{wh} {do} {subject} have {rest}".strip()) + "?"
        if low in AUX:
            return upper_first(f"{wh} {low} {subject} {rest}".strip()) + "?"
        base = low[:-2] if low.endswith("es") and low[:-2] in VERBS else (
            low[:-1] if low.endswith("s") and low[:-1] in VERBS else "")
        if base:
            return upper_first(f"{wh} does {subject} {base} {rest}".strip()) + "?"
        if low in VERBS:
            return upper_first(f"{wh} do {subject} {low} {rest}".strip()) + "?"
    return ""


def _subject_of(clause: str, fallback: str) -> str:
    words = clause.split()
    for i, word in enumerate(words[1:7], start=1):
        low = word.lower()
        if low in AUX or low in VERBS or (low.endswith("s") and low[:-1] in VERBS):
            subject = " ".join(words[:i])
            return fallback if words[i - 1].lower() in PREPOSITIONS | {"and", "or"} else subject
    return fallback


def span_facts(b: FactBuilder, clause: str, spans: list[Span], *, kind: str = "sentence",
               subject: str | None = None, proper: frozenset[str] = frozenset()) -> None:
    """One cloze fact per span: the clause with the span's place marked, plus its questions."""
    clause = clause.strip().rstrip(".")
    for span in spans:
        region = clause[span.start:span.end]
        inner = region.replace(span.answer, "{answer}", 1) if span.answer in region else "{answer}"
        statement = f"{clause[:span.start]}[[{inner}]]{clause[span.end:]}"
        prefix, suffix = clause[:span.start].strip(), clause[span.end:].strip(" .,")
        question = fronted_question(prefix, span.wh, proper) if not suffix and prefix else ""
        masked = render_statement(statement, "___")
        b.add(kind, subject or _subject_of(clause, b.title), masked, span.answer, clause,
              answer_type=span.type, wh=span.wh, statement=statement, question=question)


def key_value_facts(b: FactBuilder, key: str, value: str, evidence: str, *,
                    subject: str | None = None, max_value_words: int = 5) -> None:
    """`Key: value` -> (context, key, value); long values give one fact per typed span."""
    key, value = clean(key).strip(" *-"), clean(value).rstrip(" .")
    if not key or not value or key.lower() in GENERIC_KEYS:
        return
    subject = subject or b.context
    if looks_like_person(key) and re.match(r"^[a-z]", value):
        b.add("assignment", value, "responsible person", key, evidence, answer_type="name",
              wh="who")
        return
    core = value
    m = re.match(r"^(?P<name>[^,()]+?)\s*(?:,\s*(?P<role>[^,()]{2,60})|\((?P<org>[^()]+)\))$",
                 value)
    if m and looks_like_person(m.group("name")) and not looks_like_person(m.group("role") or ""):
        core = m.group("name").strip()
        role = m.group("role") or m.group("org")
        b.add("key_value", core, "role", role, evidence)
    words = len(core.split())
    if words <= max_value_words:
        vtype, wh = classify_value(core)
        if person_relation(key) and looks_like_person(core):
            vtype, wh = "name", "who"
        b.add("key_value", subject, key, core, evidence, answer_type=vtype, wh=wh)
    spans = [s for s in find_spans(value) if s.answer != core and s.type != "name"]
    if spans or words > max_value_words:
        clause = f"{key}: {value}"
        offset = len(key) + 2
        shifted = [Span(s.start + offset, s.end + offset, s.answer, s.type, s.wh)
                   for s in (spans or find_spans(value))]
        span_facts(b, clause, shifted, subject=subject)


def sentence_facts(b: FactBuilder, sentence: str, proper: frozenset[str],
                   max_spans: int) -> None:
    sentence = sentence.strip()
    kv = KV_RE.match(sentence)
    if kv and len(kv.group("key").split()) <= 8 and not kv.group("key").endswith(("http",
                                                                                 "https")):
        key_value_facts(b, kv.group("key"), kv.group("value"), sentence)
        return
    if not sentence_like(sentence):
        return
    definition = DEFINITION_RE.match(sentence.rstrip("."))
    if definition:
        b.add("definition", definition.group("term"), "meaning", definition.group("definition"),
              sentence, long_answer=True, question=f"What does {definition.group('term')} mean?")
    for clause in split_clauses(sentence):
        spans = find_spans(clause, limit=max_spans)
        if any(s.type != "number" for s in spans):  # a bare number beside a typed value is noise
            spans = [s for s in spans if s.type != "number"]
        if spans:
            span_facts(b, clause, spans, proper=proper)


def prose_line_facts(b: FactBuilder, line: str, proper: frozenset[str], max_spans: int) -> None:
    line = re.sub(r"^(?:[-*+]\s+|\d+[.)]\s+|#+\s+)", "", line.strip())
    if SHELL_RE.match(line) or re.search(r"\s--?[a-z][\w-]*(?:\s|=|$)", line):
        return  # a command line, not a statement
    heading = HEADING_PREFIX_RE.match(line)
    if heading and len(heading.group(1).split()) <= 5:
        line = line[heading.end():]
    for sentence in split_sentences(line):
        sentence_facts(b, sentence, proper, max_spans)


RELEASE_HEADING_RE = re.compile(r"^\[?v?(?P<version>\d+(?:\.\d+)+(?:[-+][\w.]+)?)\]?\s*"
                                r"(?:-|\u2013|\()\s*(?P<date>\d{4}-\d{2}-\d{2})\)?$")


def heading_facts(b: FactBuilder, body_lines: list[str]) -> None:
    """FAQ headings ("When are invoices sent?"), headed lists ("High-cost cities") and
    release headings ("[2.16.1] - 2026-11-25", as in keep-a-changelog files)."""
    leaf = b.chunk.section.split(" > ")[-1].strip() if b.chunk.section else ""
    release = RELEASE_HEADING_RE.match(leaf)
    if release:
        version, date = release.group("version"), release.group("date")
        b.add("release", f"version {version}", "release date", date, leaf, answer_type="date",
              wh="on what date", question=f"When was version {version} released?")
        b.add("release", f"the release of {date}", "version", version, leaf,
              answer_type="version", wh="which version",
              question=f"Which version was released on {date}?")
    if not leaf or not body_lines:
        return
    first = split_sentences(body_lines[0])[0] if split_sentences(body_lines[0]) else ""
    if leaf.endswith("?") and first:
        b.add("faq", leaf.rstrip("?"), "answer", first, first, long_answer=True, question=leaf)
        return
    if (len(body_lines) == 1 and len(first.split()) <= 20 and ":" not in first
            and ("," in first or " and " in first)):
        lowers = [w for w in re.findall(r"[A-Za-z]+", first) if w.islower()]
        if all(w in {"and", "or", "of", "the", "a", "an"} for w in lowers):
            b.add("definition", leaf, "members", first, first, long_answer=True,
                  question=f"What are the {lower_first(leaf)}?")
