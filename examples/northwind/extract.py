"""Plain-text extraction of corpus files, used to check that answers appear in their sources.

Deliberately independent of the project's own ingestion code: the sample corpus should be
verifiable on its own, with the reference libraries (pdfminer.six, python-docx).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        # Cell and block boundaries become spaces so adjacent cells do not run together.
        self.parts.append(" ")


def html_text(raw: str) -> str:
    parser = _HTMLText()
    parser.feed(raw)
    parser.close()
    return html.unescape("".join(parser.parts))


def pdf_text(path: Path) -> str:
    from pdfminer.high_level import extract_text  # imported lazily: slow to import

    return extract_text(str(path))


def docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for grid in document.tables:
        for row in grid.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def extract_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return pdf_text(path)
    if suffix == ".docx":
        return docx_text(path)
    raw = path.read_text(encoding="utf-8")
    return html_text(raw) if suffix in (".html", ".htm") else raw


def normalize(text: str) -> str:
    """Lower-case and collapse whitespace, for tolerant substring checks."""
    return re.sub(r"\s+", " ", text).strip().lower()
