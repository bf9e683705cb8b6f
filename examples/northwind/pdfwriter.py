"""Documents laid out as PDF text lines; the bytes are written by the library's deterministic
PDF writer (`evaluation.privacy.corpus_writers.write_pdf`: standard Type 1 fonts, uncompressed
streams, nothing time-dependent unless passed in)."""

from __future__ import annotations

import textwrap
from datetime import datetime

from evaluation.privacy.corpus_writers import Line, write_pdf
from examples.northwind.docmodel import Bullets, Code, Doc, Heading, Para, Table, aligned_rows

BODY_WRAP = 88  # characters of 10 pt Helvetica that fit in the 468 pt text width
MONO_WRAP = 84  # characters of 9 pt Courier (5.4 pt each)


def doc_to_lines(document: Doc) -> list[Line]:
    """Lay out a document as lines: bold headings, wrapped paragraphs, Courier tables."""
    lines = [Line(document.title, "F2", 16)]
    for block in document.blocks:
        if isinstance(block, Heading):
            lines.append(Line(block.text, "F2", 12.5, space_before=10))
        elif isinstance(block, Para):
            lines += _wrapped(block.text, space_before=4)
        elif isinstance(block, Bullets):
            for item in block.items:
                lines += _wrapped(f"- {item}", space_before=2)
        elif isinstance(block, Table):
            rows = aligned_rows(block)
            too_wide = [row for row in rows if len(row) > MONO_WRAP]
            if too_wide:  # truncating would silently drop facts, so fail loudly instead
                raise ValueError(f"{document.path}: table row too wide for PDF: {too_wide[0]}")
            lines.append(Line(rows[0], "F3", 9, space_before=6))
            lines += [Line(row, "F3", 9) for row in rows[1:]]
        elif isinstance(block, Code):
            lines += [Line(text, "F3", 9) for text in block.text.splitlines()]
    return lines


def _wrapped(text: str, *, space_before: float) -> list[Line]:
    # Protect "(555) 010-..." and "+1 555-..." so a phone number never straddles two lines.
    guarded = text.replace("(555) ", "(555)\x00").replace("+1 555", "+1\x00555")
    chunks = textwrap.wrap(guarded, BODY_WRAP, break_long_words=False, break_on_hyphens=False) or [
        ""
    ]
    return [
        Line(chunk.replace("\x00", " "), space_before=space_before if i == 0 else 0)
        for i, chunk in enumerate(chunks)
    ]


def render_pdf(document: Doc, created: datetime) -> bytes:
    return write_pdf(doc_to_lines(document), title=document.title, created=created)
