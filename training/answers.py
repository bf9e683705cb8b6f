"""Answer comparison shared by training and evaluation: one normalisation, exact match, token F1.

Generated text and gold answers differ in case, accents, spacing around punctuation (a
WordPiece model decodes `"O'Neil, $1,800"` as `"o ' neil, $ 1, 800"`), thousands separators and
articles. `normalize_answer` maps both the gold answer and the decoded text to the same
canonical form (SQuAD's, extended), in this order:

1. drop citation markers such as `[2]` (see `training.prompting`), NFKC, plain quotes and dashes,
   strip accents, lower-case;
2. remove whitespace next to punctuation (undoes a tokenizer's spacing);
3. drop thousands separators (`1,800` -> `1800`);
4. punctuation becomes a space, except `$` and `%` and the joiners `- ' . / : _ @ # + &` between
   two letters or digits, so codes (`zx-42b`), decimals (`3.5%`), times (`09:30`) and names
   (`o'neil`) stay intact;
5. the articles `a`, `an`, `the` are dropped as whole words (SQuAD), whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

CITATION_RE = re.compile(r"\s*\[\s*\d+\s*\]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-", "\u00a0": " "})
_SPACE_AROUND_PUNCT = re.compile(r"\s*([^\w\s])\s*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_JOINERS = "-'./:_@#+&"
_KEEP = "$%"
_ARTICLES = frozenset({"a", "an", "the"})


def strip_citations(text: str) -> str:
    """Remove `[n]` citation markers.

    >>> strip_citations("Lena Brook [2].")
    'Lena Brook.'
    """
    return CITATION_RE.sub("", text).strip()


def cited_passages(text: str) -> list[int]:
    """Passage numbers cited in `text`, in order of appearance.

    >>> cited_passages("port 8443 [2] [3]")
    [2, 3]
    """
    return [int(m) for m in re.findall(r"\[\s*(\d+)\s*\]", text)]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _punctuation_to_space(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch.isalnum() or ch.isspace() or ch in _KEEP:
            out.append(ch)
        elif ch in _JOINERS and 0 < i < len(text) - 1 and text[i - 1].isalnum() \
                and text[i + 1].isalnum():
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)


def normalize_answer(text: str) -> str:
    """Canonical form of an answer for comparison (see the module docstring for the steps).

    >>> normalize_answer("Lena O'Brook, $1,800 (ZX-42b) 3.5% [1]")
    "lena o'brook $1800 zx-42b 3.5%"
    >>> normalize_answer("lena o ' brook, $ 1, 800 ( zx - 42b ) 3. 5 %")
    "lena o'brook $1800 zx-42b 3.5%"
    >>> normalize_answer("The Orbit Gateway.")
    'orbit gateway'
    """
    text = strip_citations(text)
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _strip_accents(text).lower()
    text = _SPACE_AROUND_PUNCT.sub(r"\1", text)
    text = _THOUSANDS.sub("", text)
    text = _punctuation_to_space(text)
    return " ".join(tok for tok in text.split() if tok not in _ARTICLES)


def _golds(gold: str | Iterable[str]) -> list[str]:
    golds = [gold] if isinstance(gold, str) else list(gold)
    if not golds:
        raise ValueError("no gold answer given")
    return golds


def exact_match(prediction: str, gold: str | Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer, else 0.0.

    >>> exact_match("lena o ' brook", "Lena O'Brook")
    1.0
    >>> exact_match("lena brook", "Lena O'Brook")
    0.0
    """
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _golds(gold)))


def token_f1(prediction: str, gold: str | Iterable[str]) -> float:
    """SQuAD token F1 over whitespace tokens of the normalised texts; the best over golds.

    >>> token_f1("port 8443 on eu-west", "8443")
    0.4
    >>> token_f1("", "8443")
    0.0
    """
    pred = normalize_answer(prediction).split()
    best = 0.0
    for g in _golds(gold):
        ref = normalize_answer(g).split()
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            precision, recall = common / len(pred), common / len(ref)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def short_answer_contains(prediction: str, gold: str | Iterable[str], max_words: int = 12) -> float:
    """1.0 when an answer of at most `max_words` normalised words contains a normalised gold
    answer as a whole-word phrase (an instruct model's "The capital of France is Paris."), else 0.

    >>> short_answer_contains("The capital of France is Paris.", "Paris")
    1.0
    >>> short_answer_contains("Parisian food", "Paris")
    0.0
    >>> short_answer_contains("it is " + "very " * 12 + "Paris", "Paris")
    0.0
    """
    pred = normalize_answer(prediction).split()
    if not pred or len(pred) > max_words:
        return 0.0
    padded = f" {' '.join(pred)} "
    return float(any(normalize_answer(g) and f" {normalize_answer(g)} " in padded
                     for g in _golds(gold)))
