"""Deterministic fact extraction: one chunk in, its facts out, no model involved.

>>> from training.synthesis.models import Chunk
>>> chunk = Chunk("c1", "d1", "acme", "Owner: Rebecca Osei.\\nLogs are kept for 400 days.",
...               section="Security Policy", path="policy.md")
>>> [(f.kind, f.relation, f.answer) for f in extract_facts(chunk)]  # doctest: +NORMALIZE_WHITESPACE
[('key_value', 'Owner', 'Rebecca Osei'), ('sentence', 'Logs are kept for ___', '400 days')]
"""

from __future__ import annotations

import re

from training.synthesis.builder import FactBuilder
from training.synthesis.code import config_facts, is_code, is_config, python_facts
from training.synthesis.models import Chunk, Fact
from training.synthesis.prose import heading_facts, proper_words, prose_line_facts
from training.synthesis.tables import DASH_RULE_RE, dash_table, pipe_table, table_facts

UNDERLINE_RE = re.compile(r"^\s*[=\-~_*#]{3,}\s*$")


def extract_facts(chunk: Chunk, *, max_spans_per_clause: int = 3,
                  max_answer_words: int = 12) -> list[Fact]:
    """All facts of `chunk`, in reading order (earlier facts win a quota)."""
    return extract_with_stats(chunk, max_spans_per_clause=max_spans_per_clause,
                              max_answer_words=max_answer_words)[0]


def extract_with_stats(chunk: Chunk, *, max_spans_per_clause: int = 3,
                       max_answer_words: int = 12) -> tuple[list[Fact], dict[str, int]]:
    """Facts plus counts of candidates refused (placeholder, too long, ...)."""
    b = FactBuilder(chunk, max_answer_words=max_answer_words)
    path = chunk.path.lower()
    if path.endswith(".py"):
        python_facts(b, chunk.text, max_spans_per_clause)
    elif is_config(path) or is_code(path):
        config_facts(b, chunk.text)
    else:
        _document_facts(b, chunk.text, max_spans_per_clause)
    return b.facts, dict(b.rejected)


def _document_facts(b: FactBuilder, text: str, max_spans: int) -> None:
    lines = text.split("\n")
    proper = proper_words(text)
    body: list[str] = []
    title = b.chunk.section.split(" > ")[-1] if b.chunk.section else b.title
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if not line or UNDERLINE_RE.match(line):
            i += 1
            continue
        if UNDERLINE_RE.match(nxt) or re.match(r"^#{1,6}\s", line):  # a heading
            title = line.lstrip("# ").strip()
            i += 2 if UNDERLINE_RE.match(nxt) else 1
            continue
        if line.count("|") >= 1 and "|" in nxt:
            block = []
            while i < len(lines) and "|" in lines[i]:
                block.append(lines[i].strip())
                i += 1
            table = pipe_table(block, title)
            if table:
                table_facts(b, table)
            continue
        if DASH_RULE_RE.search(line):
            table = dash_table(line, title)
            if table:
                table_facts(b, table)
            else:
                b.rejected["unparsed_table"] = b.rejected.get("unparsed_table", 0) + 1
            i += 1
            continue
        if _is_heading(line, nxt):
            title = line
            i += 1
            continue
        body.append(line)
        prose_line_facts(b, line, proper, max_spans)
        i += 1
    heading_facts(b, body)


def _is_heading(line: str, nxt: str) -> bool:
    """A short unpunctuated line before more text ("Limits by plan") names what follows."""
    words = line.split()
    return (bool(nxt) and 1 <= len(words) <= 7 and line[-1:] not in ".:;,!?)"
            and line[:1].isupper() and ":" not in line and not any(c.isdigit() for c in line))
