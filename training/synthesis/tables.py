"""Tables: `a | b | c` rows (header first) and dash-ruled fixed-width tables, even collapsed.

PDF and plain-text extraction often flattens a fixed-width table onto one line:
`Level Definition ----- ---------- SEV1 Full outage SEV2 Major degradation`. The dash runs keep
each column's width, so the header and rows can be recovered: cells are cut where a dynamic
programme scores the boundaries best (a cell rarely starts lower-case or ends on "of"), and the
result is kept only if every column's widest cell (or header) is exactly as wide as its dashes,
which a wrong cut almost never achieves.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache

from training.synthesis.builder import FactBuilder, looks_like_person, person_relation
from training.synthesis.normalize import has_placeholder, lower_first
from training.synthesis.prose import span_facts
from training.synthesis.spans import Span, classify_value, find_spans

DASH_RULE_RE = re.compile(r"(?:^|\s)(-{3,}(?:\s+-{3,})+)(?=\s|$)")
FUNCTION_WORDS = frozenset("of and or to the a an in on at for with by per from than over under "
                           "up every".split())
GENERIC_HEADERS = frozenset("value values amount rule rules requirement details description "
                            "setting answer result figure".split())
UNIT_WORDS = frozenset("ms seconds second minutes minute hours hour days day weeks week months "
                       "month years year business working calendar percent".split())
QUALIFIERS = frozenset("business working calendar".split())
CODE_RE = re.compile(r"^(?=.*\d)[A-Z0-9][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*$")


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


def pipe_table(lines: list[str], title: str) -> Table | None:
    cells = [[c.strip() for c in line.split("|")] for line in lines]
    header = cells[0]
    if header and ". " in header[0]:  # a sentence ran into the header line
        header[0] = header[0].rsplit(". ", 1)[1]
    rows = [r for r in cells[1:] if len(r) == len(header)]
    if len(header) < 2 or not rows:
        return None
    return Table(title, header, rows)


def _header_groups(words: list[str], widths: list[int]) -> list[str] | None:
    """Split header words into len(widths) groups that fit, filling columns best."""
    k, n = len(widths), len(words)

    @cache
    def best(i: int, col: int) -> tuple[float, tuple[str, ...]] | None:
        if col == k:
            return (0.0, ()) if i == n else None
        result = None
        for j in range(i + 1, n - (k - col - 1) + 1):
            group = " ".join(words[i:j])
            if len(group) > widths[col]:
                break
            rest = best(j, col + 1)
            if rest is not None:
                score = (len(group) / widths[col]) ** 2 + rest[0]
                if result is None or score > result[0]:
                    result = (score, (group, *rest[1]))
        return result

    found = best(0, 0)
    return list(found[1]) if found else None


def _shape(token: str) -> str:
    return re.sub(r"[a-z]+", "a", re.sub(r"[A-Z]+", "A", re.sub(r"\d+", "9", token)))


def _is_number(token: str) -> bool:
    return bool(re.fullmatch(r"[$€£]?\d[\d,.]*%?", token))


def _title_word(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][a-z]+", token))


def _cell_class(cell: str) -> str:
    tokens = cell.split()
    if all(_is_number(t) for t in tokens):
        return "number"
    kind = "code" if re.search(r"\d", tokens[0]) else ("lower" if tokens[0][:1].islower()
                                                      else "word")
    return kind + ("+number" if any(_is_number(t) for t in tokens[1:]) else "")


def _cells(tokens: list[str], widths: list[int], need_full: frozenset[int],
           hard: tuple[bool, ...] | None = None,
           person_cols: frozenset[int] = frozenset()) -> list[list[str]] | None:
    """Cut the token stream into rows of len(widths) cells; None when nothing fits.

    A first pass scores only the cut points; two more passes also charge cells whose class
    (number, word, word with a number, ...) differs from their column's most common class.
    Columns in `need_full` must get at least one cell exactly as wide as their dashes; cells
    of `person_cols` (headed "Owner", "Approver", ...) should read as names.
    """
    if not tokens:
        return None
    rows = _cut(tokens, widths, need_full, hard, person_cols, None)
    for _ in range(2):
        if rows is None:
            return None
        majority = []
        for col in range(len(widths)):
            classes = [_cell_class(r[col]) for r in rows]
            majority.append(max(set(classes), key=classes.count))
        rows = _cut(tokens, widths, need_full, hard, person_cols, majority)
    return rows


def _cut(tokens: list[str], widths: list[int], need_full: frozenset[int],
         hard: tuple[bool, ...] | None, person_cols: frozenset[int],
         majority: list[str] | None) -> list[list[str]] | None:
    k, n = len(widths), len(tokens)
    start_shape = _shape(tokens[0])
    need = sum(1 << c for c in need_full)

    def boundary(i: int) -> float:  # cost of a cell starting at token i
        if i == 0 or i == n:
            return 0.0
        cost = 0.0
        if tokens[i][:1].islower():
            cost += 1.0
        if tokens[i - 1].lower() in FUNCTION_WORDS:
            cost += 2.0
        if _title_word(tokens[i - 1]) and _title_word(tokens[i]):
            cost += 0.5  # "Priya | Raman": names run across capitalised words
        if tokens[i].lower().rstrip(".,") in UNIT_WORDS and (
                _is_number(tokens[i - 1]) or tokens[i - 1].lower() in QUALIFIERS):
            cost += 2.0
        return cost

    def inside(i: int, j: int, col: int) -> float:  # cost of cell tokens[i:j]
        cost = 2.0 * sum(_is_number(a) and _is_number(b)
                         for a, b in zip(tokens[i:j], tokens[i + 1:j], strict=False))
        if col == 0 and _shape(tokens[i]) != start_shape:
            cost += 1.0
        if majority is not None and _cell_class(" ".join(tokens[i:j])) != majority[col]:
            cost += 1.0
        if col in person_cols and not looks_like_person(" ".join(tokens[i:j])):
            cost += 1.0
        return cost

    @cache
    def best(i: int, col: int, mask: int) -> tuple[float, tuple[int, ...]] | None:
        if i == n:
            return (0.0, ()) if col == 0 and mask & need == need else None
        result = None
        length = -1
        for j in range(i + 1, n + 1):
            if hard is not None and j - 1 > i and hard[j - 1]:
                break  # a wide gap inside a cell: the cell must end before it
            length += len(tokens[j - 1]) + 1
            if length > widths[col]:
                break
            nxt = (col + 1) % k
            if hard is not None and j < n and not hard[j] and nxt != 0:
                continue  # a single space only separates the last cell from the next row
            rest = best(j, nxt, mask | ((length == widths[col]) << col))
            if rest is None:
                continue
            cost = boundary(i) + inside(i, j, col) + rest[0]
            if result is None or cost < result[0]:
                result = (cost, (j, *rest[1]))
        return result

    found = best(0, 0, 0)
    if found is None:
        return None
    cuts = [0, *found[1]]
    cells = [" ".join(tokens[a:b]) for a, b in itertools.pairwise(cuts)]
    return [cells[r:r + k] for r in range(0, len(cells), k)]


def dash_table(line: str, title: str) -> Table | None:
    """Recover a fixed-width table whose rows were joined onto `line`; None if unsure."""
    m = DASH_RULE_RE.search(line)
    if not m:
        return None
    widths = [len(d) for d in m.group(1).split()]
    header_words = line[:m.start(1)].split()
    body = line[m.end(1):].strip()
    spaced = bool(re.search(r"-\s{2,}-", m.group(1)))  # plain text kept its column gaps
    pieces = re.findall(r"(\s*)(\S+)", body)
    tokens = [tok for _gap, tok in pieces]
    hard = tuple(len(gap) >= 2 for gap, _tok in pieces) if spaced else None
    if len(tokens) > 300 or len(widths) < 2 or len(widths) > 8:
        return None
    header = None
    for drop in range(len(header_words)):  # leading words may belong to a sentence before
        header = _header_groups(header_words[drop:], widths)
        if header:
            break
    if not header:
        return None
    # Scrubbing shortens cells, so only collapsed tables (no gaps to go by) need the widths.
    need_full = frozenset() if spaced else frozenset(
        c for c, w in enumerate(widths) if len(header[c]) != w)
    person_cols = frozenset(c for c, h in enumerate(header) if person_relation(h))
    rows = _cells(tokens, widths, need_full, hard, person_cols)
    return Table(title, header, rows) if rows else None


def _row_subject(row: list[str], header: list[str]) -> str:
    key = row[0]
    if (len(row) > 2 and CODE_RE.match(key) and row[1] and not any(c.isdigit() for c in row[1])
            and not has_placeholder(row[1])):
        return f"{row[1]} ({key})"
    return key


def table_facts(b: FactBuilder, table: Table, *, max_cell_words: int = 8) -> None:
    """Row label x column header -> cell, plus reverse look-ups on unique text columns."""
    header = table.header
    for row in table.rows:
        if has_placeholder(row[0]) or not row[0]:
            continue
        subject = _row_subject(row, header)
        for col in range(1, len(header)):
            cell, head = row[col], header[col]
            if not cell or cell in {"-", "—"} or has_placeholder(cell) or not head:
                continue
            evidence = f"{table.title}: {header[0]} {row[0]}; {head}: {cell}".strip(": ")
            if head.lower() in GENERIC_HEADERS:
                subj, rel = table.title or b.context, row[0]
            else:  # the column that names the row is asked by the row's code alone
                subj, rel = (row[0] if col == 1 and subject != row[0] else subject), head
            if len(cell.split()) <= max_cell_words:
                vtype, wh = classify_value(cell)
                if person_relation(head) and looks_like_person(cell):
                    vtype, wh = "name", "who"
                b.add("table_cell", subj, rel, cell, evidence, answer_type=vtype, wh=wh,
                      context=table.title or b.context)
            spans = [s for s in find_spans(cell) if s.answer != cell and s.type != "name"]
            if spans:
                prefix = f"{lower_first(rel)} of {subj}: "
                shifted = [Span(s.start + len(prefix), s.end + len(prefix), s.answer, s.type,
                                s.wh) for s in spans]
                span_facts(b, prefix + cell, shifted, subject=subj)
    _reverse_facts(b, table)


def _reverse_facts(b: FactBuilder, table: Table) -> None:
    key_header = table.header[0]
    if not key_header or key_header.lower() in GENERIC_HEADERS:
        return
    for col in range(1, len(table.header)):
        values = [row[col] for row in table.rows]
        textual = [v for v in values if re.search(r"[A-Za-z]{3}", v)
                   and classify_value(v)[0] in {"text", "name", "identifier", "version"}
                   and (v[:1].isupper() or re.search(r"\d|\w-\w|_", v))]  # names, not notes
        if len(textual) != len(values) or len(set(values)) != len(values):
            continue
        for row in table.rows:
            value = row[col]
            if len(value.split()) > 8 or has_placeholder(value) or has_placeholder(row[0]):
                continue
            vtype, wh = classify_value(row[0])
            b.add("table_lookup", value, key_header, row[0],
                  f"{table.title}: {table.header[col]} {value}; {key_header}: {row[0]}",
                  answer_type=vtype, wh=wh if wh != "what" else f"which {key_header.lower()}",
                  context=table.title or b.context)
