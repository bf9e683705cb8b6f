"""Example answers: per question, each arm's answer marked right or wrong beside the gold answer
and the chunk it cites; model text is shown detokenised.

Why `readable`: a WordPiece tokenizer decodes `"CC-2200"` as `"cc - 2200"` and
`"O'Neil, $1,800"` as `"o ' neil, $ 1, 800"` (it joins word pieces with spaces, and
`clean_up_tokenization_spaces` only mends `" ."`, `" ,"` and contractions). Scoring is not
affected (`training.answers.normalize_answer` removes spacing around punctuation), but the
report shows the text to people, so the spacing is mended for display only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from evaluation.report.style import ordered_arms, ordered_sets
from evaluation.report.verdict import swatch
from training.answers import exact_match, short_answer_contains

_JOINED = re.compile(r"(?<=\w) ([-'/_@]) (?=\w)")  # "cc - 2200", "o ' neil", "it ' s"
_TIME = re.compile(r"(?<=\d) : (?=\d)")  # "09 : 30" -> "09:30"
_BEFORE = re.compile(r" +([.,;:!?%)\]}])")  # "word ." -> "word."
_AFTER = re.compile(r"([(\[{$#]) +")  # "( word" -> "(word", "$ 1" -> "$1"
_THOUSANDS = re.compile(r"(?<=\d), (?=\d{3}\b)")  # "1, 800" -> "1,800"
_DECIMAL = re.compile(r"(?<=\d) ?\. ?(?=\d)")  # "3 . 5" -> "3.5"
_CITATION = re.compile(r"\[ (\d+) \]")
CHUNK_EXCERPT_CHARS = 280


def readable(text: str) -> str:
    """Undo a tokenizer's spacing around punctuation, for display.

    >>> readable("cc - 2200")
    'cc-2200'
    >>> readable("o ' neil, $ 1, 800 ( approx . )")
    "o'neil, $1,800 (approx.)"
    >>> readable("3 . 5 % at 09 : 30 [ 2 ]")
    '3.5% at 09:30 [2]'
    >>> readable("Paris, France - the capital. Note: see zx - 42b")
    'Paris, France - the capital. Note: see zx-42b'
    """
    text = _CITATION.sub(r"[\1]", text)
    text = _DECIMAL.sub(".", text)
    text = _THOUSANDS.sub(",", text)
    text = _TIME.sub(":", text)
    text = _JOINED.sub(_join, text)
    text = _BEFORE.sub(r"\1", text)
    return _AFTER.sub(r"\1", text).strip()


def _join(match: re.Match[str]) -> str:
    # A spaced dash between two words ("France - the") is prose; keep it. Next to a number
    # ("cc - 2200", "2024 - 01") it is a code the tokenizer spaced out.
    if match.group(1) == "-":
        before = match.string[:match.start()].rsplit(" ", 1)[-1]
        after = match.string[match.end():].split(" ", 1)[0]
        if not any(c.isdigit() for c in before + after):
            return match.group(0)
    return match.group(1)


def cited_chunk_ids(summary: Mapping[str, Any]) -> set[str]:
    """The chunk ids the examples cite first (the ones the report shows)."""
    return {items_cites[0]["chunk_id"] for by_arm in (summary.get("examples") or {}).values()
            for items in by_arm.values() for item in items
            if (items_cites := item.get("citations")) and items_cites[0].get("chunk_id")}


def warehouse_chunk_texts(con: Any, chunk_ids: Iterable[str]) -> dict[str, str]:
    """Chunk id -> text from the warehouse's `marts.chunks_for_index` (a DuckDB connection)."""
    ids = sorted(set(chunk_ids))
    if not ids:
        return {}
    rows = con.execute("select chunk_id, text from marts.chunks_for_index "
                       "where list_contains(?, chunk_id)", [ids]).fetchall()
    return dict(rows)


def add_chunk_texts(summary: dict[str, Any], texts: Mapping[str, str]) -> None:
    """Give each example's citations their chunk's text (`texts`: chunk id -> text), so the
    report can show what an answer read."""
    for by_arm in (summary.get("examples") or {}).values():
        for items in by_arm.values():
            for item in items:
                for cite in item.get("citations", []):
                    if cite.get("chunk_id") in texts:
                        cite["text"] = texts[cite["chunk_id"]]


def mark(answer: str, golds: Iterable[str]) -> str:
    """Right (exact match), partly right (the gold inside a short answer) or wrong."""
    golds = list(golds)
    if exact_match(answer, golds):
        return '<span class="right" title="exact match">&#10003; right</span>'
    if short_answer_contains(answer, golds):
        return ('<span class="partial" title="the gold answer is inside a short answer">'
                "&#8776; contains gold</span>")
    return '<span class="wrong">&#10007; wrong</span>'


def _chunk(citations: list[dict[str, Any]]) -> str:
    if not citations:
        return '<span class="muted">none (closed-book)</span>'
    first = citations[0]
    where = f"{first.get('source_id')}:{first.get('path')}"
    if first.get("section"):
        where += f" § {first['section']}"
    text = " ".join(str(first.get("text") or "").split())
    if len(text) > CHUNK_EXCERPT_CHARS:
        text = text[:CHUNK_EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    more = f" (+{len(citations) - 1} more)" if len(citations) > 1 else ""
    return (f"<b>{escape(where)}</b>{escape(more)}"
            + (f'<br><span class="chunk">{escape(text)}</span>' if text else ""))


def examples_html(summary: Mapping[str, Any], per_set: int = 3) -> str:
    """One table per question set: each question with its gold answer, then one row per arm."""
    parts = []
    examples = summary.get("examples") or {}
    for qset in ordered_sets(examples):
        by_arm = examples[qset]
        questions: dict[str, dict[str, Any]] = {}
        for arm in ordered_arms(by_arm):
            for item in by_arm[arm]:
                entry = questions.setdefault(str(item.get("qid") or item["question"]),
                                             {"item": item, "arms": []})
                entry["arms"].append((arm, item))
        rows = []
        for entry in list(questions.values())[:per_set]:
            item = entry["item"]
            golds = item.get("golds") or [item["gold"]]
            rows.append(f'<tr class="q"><td colspan="4"><b>Q:</b> '
                        f"{escape(str(item['question']))}<br><b>gold:</b> "
                        f"{escape(' | '.join(map(str, golds)))}</td></tr>")
            for arm, got in entry["arms"]:
                rows.append(f'<tr><td class="l">{swatch(arm)}{escape(arm)}</td>'
                            f'<td class="l">{mark(str(got["answer"]), golds)}</td>'
                            f'<td class="text">{escape(readable(str(got["answer"])))}</td>'
                            f'<td class="text">{_chunk(got.get("citations", []))}</td></tr>')
        parts.append(f"<h3>{escape(qset)}</h3><div class=\"wrap\"><table><tr><th class=\"l\">"
                     'arm</th><th class="l">verdict</th><th class="l">answer</th>'
                     f'<th class="l">cited chunk</th></tr>{"".join(rows)}</table></div>')
    return "".join(parts)
