"""A minimal, dependency-free PDF writer for text documents.

Only the standard Type 1 fonts (Helvetica, Helvetica-Bold, Courier) are used, so no font
embedding is needed and pdfminer.six can extract the text with its built-in metrics. Streams
are left uncompressed and nothing time-dependent is written unless the caller passes it in,
which keeps the output byte-identical between runs.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime

from examples.northwind.docmodel import Bullets, Code, Doc, Heading, Para, Table, aligned_rows

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter in points
MARGIN = 72
FONTS = {"F1": "Helvetica", "F2": "Helvetica-Bold", "F3": "Courier"}
BODY_WRAP = 88  # characters of 10 pt Helvetica that fit in the 468 pt text width
MONO_WRAP = 84  # characters of 9 pt Courier (5.4 pt each)


@dataclass(frozen=True)
class Line:
    text: str
    font: str = "F1"
    size: float = 10.0
    space_before: float = 0.0


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


def write_pdf(lines: list[Line], *, title: str, created: datetime) -> bytes:
    pages = _paginate(lines)
    font_ids = {name: 3 + i for i, name in enumerate(FONTS)}
    info_id = 3 + len(FONTS)
    first_page_id = info_id + 1
    page_ids = [first_page_id + 2 * i for i in range(len(pages))]

    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: (
            f"<< /Type /Pages /Kids [{' '.join(f'{pid} 0 R' for pid in page_ids)}] "
            f"/Count {len(pages)} >>"
        ).encode(),
    }
    for name, base in FONTS.items():
        objects[font_ids[name]] = (
            f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>"
        ).encode()
    stamp = created.strftime("D:%Y%m%d%H%M%SZ")
    objects[info_id] = (
        f"<< /Title ({_escape(title)}) /Producer (Northwind minimal PDF writer) "
        f"/CreationDate ({stamp}) /ModDate ({stamp}) >>"
    ).encode("latin-1")

    font_dict = " ".join(f"/{name} {oid} 0 R" for name, oid in font_ids.items())
    for page_id, page in zip(page_ids, pages, strict=True):
        stream = _content_stream(page)
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            f"/Resources << /Font << {font_dict} >> >> /Contents {page_id + 1} 0 R >>"
        ).encode()
        objects[page_id + 1] = (
            f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream"
        )
    return _serialize(objects, root=1, info=info_id)


def _paginate(lines: list[Line]) -> list[list[tuple[float, Line]]]:
    """Assign each line a baseline y, starting a new page when the bottom margin is hit."""
    pages: list[list[tuple[float, Line]]] = [[]]
    y = PAGE_HEIGHT - MARGIN
    for line in lines:
        step = line.size * 1.35 + (line.space_before if pages[-1] else 0)
        if y - step < MARGIN:
            pages.append([])
            y = PAGE_HEIGHT - MARGIN
            step = line.size * 1.35
        y -= step
        pages[-1].append((y, line))
    return pages


def _content_stream(page: list[tuple[float, Line]]) -> bytes:
    ops = []
    for y, line in page:
        ops.append(
            f"BT /{line.font} {line.size:g} Tf {MARGIN} {y:.2f} Td ({_escape(line.text)}) Tj ET"
        )
    return "\n".join(ops).encode("latin-1")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _serialize(objects: dict[int, bytes], *, root: int, info: int) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for oid in sorted(objects):
        offsets[oid] = len(out)
        out += f"{oid} 0 obj\n".encode() + objects[oid] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n".encode()
    out += b"0000000000 65535 f \n"
    for oid in range(1, size):
        out += f"{offsets[oid]:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {size} /Root {root} 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)
