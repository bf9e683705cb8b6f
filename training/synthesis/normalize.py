"""Text normalisation shared by extraction, filters and coverage.

Questions are compared after `normalize_question` (case, punctuation and spacing ignored: the
base model's tokenizer lower-cases anyway). Answers are compared as token sequences from
`answer_tokens`, which keeps the characters that change a value ($, %, decimal points) and
drops thousands separators, so "$1,800" and "$1800" match but "$1,800" and "1,800" do not.
"""

from __future__ import annotations

import re
import unicodedata

PLACEHOLDER_RE = re.compile(r"\[(?:REDACTED(?::[\w.-]+)?|EMAIL|PHONE)\]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-", "\u00a0": " "})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TOKEN = re.compile(r"[$]?[a-z0-9]+(?:[.:/'_-][a-z0-9]+)*%?|%|\$")
_SPACE = re.compile(r"\s+")


def has_placeholder(text: str) -> bool:
    """True when `text` holds a scrubbed secret or PII marker; no fact may come from it."""
    return bool(PLACEHOLDER_RE.search(text))


def clean(text: str) -> str:
    """NFKC, plain quotes and dashes, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()


def answer_tokens(text: str) -> list[str]:
    """Lower-cased value tokens: `"$1,800 per year."` -> `["$1800", "per", "year"]`."""
    text = _THOUSANDS.sub("", clean(text).lower())
    return _TOKEN.findall(text)


def normalize_answer(text: str) -> str:
    """Canonical answer string for equality: tokens joined by single spaces."""
    return " ".join(answer_tokens(text))


def normalize_question(text: str) -> str:
    """Canonical question string for de-duplication."""
    return " ".join(answer_tokens(text))


def strip_answer(text: str) -> str:
    """Trim a raw value to its surface form: outer spaces, quotes and trailing punctuation."""
    text = clean(text)
    text = text.strip(" \t\"'`")
    while text and text[-1] in ".,;:" and not re.search(r"\d\.$", text[-3:]):
        text = text[:-1].rstrip()
    if len(text) >= 2 and text[0] == "(" and text[-1] == ")":
        text = text[1:-1].strip()
    return text


def contains_tokens(haystack: list[str], needle: list[str]) -> bool:
    """True when `needle` occurs as a contiguous run of `haystack`."""
    if not needle or len(needle) > len(haystack):
        return False
    first = needle[0]
    width = len(needle)
    return any(haystack[i] == first and haystack[i:i + width] == needle
               for i in range(len(haystack) - width + 1))


def answer_supported(answer: str, text: str, *, min_overlap: float = 0.8,
                     overlap_from_tokens: int = 4) -> bool:
    """The answer-support check: is `answer` backed by `text`?

    Short answers must occur verbatim (after normalisation); answers of at least
    `overlap_from_tokens` tokens pass when `min_overlap` of their tokens occur in the text.

    >>> answer_supported("$1,800", "Learning budget: $1,800 per calendar year.")
    True
    >>> answer_supported("$1,900", "Learning budget: $1,800 per calendar year.")
    False
    """
    needle = answer_tokens(answer)
    if not needle or has_placeholder(answer):
        return False
    hay = answer_tokens(text)
    if contains_tokens(hay, needle):
        return True
    if len(needle) < overlap_from_tokens and "," not in answer:  # lists may be reordered
        return False
    present = set(hay)
    return sum(tok in present for tok in needle) / len(needle) >= min_overlap


def answers_match(expected: str, found: str) -> bool:
    """Coverage match: equal after normalisation, or `expected` inside a short `found`.

    "Short" means at most max(3, 2 x len(expected)) tokens, so "$310" matches
    "$310 per night" but "4" does not match a whole sentence that happens to contain a 4.
    """
    want, got = answer_tokens(expected), answer_tokens(found)
    if not want or not got:
        return False
    if want == got:
        return True
    return len(got) <= max(3, 2 * len(want)) and contains_tokens(got, want)


def word_count(text: str) -> int:
    return len(text.split())


def lower_first(text: str, proper: frozenset[str] = frozenset()) -> str:
    """Lower-case the first word unless it looks like a name, code or acronym.

    `proper` holds words seen capitalised in mid-sentence elsewhere (names: "Northwind").
    """
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if len(first) > 1 and (any(c.isupper() for c in first[1:]) or any(c.isdigit() for c in first)):
        return text
    if first in proper or first == "I":
        return text
    return text[0].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
