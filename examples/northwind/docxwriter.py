"""DOCX rendering with python-docx, post-processed to be byte-deterministic.

python-docx stamps the core properties and every zip entry with the current time. We set the
core properties explicitly and then rewrite the zip with a fixed timestamp per entry
(`evaluation.privacy.corpus_writers.normalize_docx_zip`), so two builds with the same ``as_of``
produce identical bytes.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import docx

from evaluation.privacy.corpus_writers import normalize_docx_zip
from examples.northwind.docmodel import Bullets, Code, Doc, Heading, Para, Table


def render_docx(document: Doc, created: datetime) -> bytes:
    out = docx.Document()
    _set_core_properties(out, document.title, created)
    out.add_heading(document.title, level=1)
    for block in document.blocks:
        if isinstance(block, Heading):
            out.add_heading(block.text, level=2)
        elif isinstance(block, Para):
            out.add_paragraph(block.text)
        elif isinstance(block, Bullets):
            for item in block.items:
                out.add_paragraph(item, style="List Bullet")
        elif isinstance(block, Table):
            _add_table(out, block)
        elif isinstance(block, Code):
            for line in block.text.splitlines():
                out.add_paragraph(line)
    buffer = io.BytesIO()
    out.save(buffer)
    return normalize_docx_zip(buffer.getvalue(), created)


def _set_core_properties(out: docx.document.Document, title: str, created: datetime) -> None:
    # python-docx writes naive datetimes as UTC ("...Z"); strip tzinfo to be explicit.
    stamp = created.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    props = out.core_properties
    props.title = title
    props.comments = "Northwind sample corpus"  # replaces python-docx's default description
    props.author = "Northwind Systems"
    props.last_modified_by = "Northwind Systems"
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp
    props.revision = 1


def _add_table(out: docx.document.Document, block: Table) -> None:
    grid = out.add_table(rows=1 + len(block.rows), cols=len(block.header))
    grid.style = "Table Grid"
    for row_index, row in enumerate([block.header, *block.rows]):
        for col_index, text in enumerate(row):
            grid.cell(row_index, col_index).text = text
