"""A tiny format-neutral document model and its text renderers (md, txt, html).

Content modules describe each document once as blocks; the renderers turn the same blocks
into Markdown, plain text, HTML, PDF (see ``pdfwriter``) or DOCX (see ``docxwriter``), so a
fact reads the same whatever the format.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Code:
    """Verbatim lines (config snippets, keys); never wrapped or re-indented."""

    text: str


Block = Heading | Para | Bullets | Table | Code


@dataclass(frozen=True)
class Doc:
    path: str  # relative to documents/, e.g. "engineering/adr/ADR-0007.md"
    title: str
    blocks: tuple[Block, ...]
    changing: bool = False  # True: edited weekly, so its mtime is 1-6 days before as_of

    @property
    def ext(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def doc(path: str, title: str, *blocks: Block, changing: bool = False) -> Doc:
    return Doc(path=path, title=title, blocks=tuple(blocks), changing=changing)


def bullets(*items: str) -> Bullets:
    return Bullets(tuple(items))


def table(header: list[str] | tuple[str, ...], *rows: list[str] | tuple[str, ...]) -> Table:
    return Table(tuple(header), tuple(tuple(row) for row in rows))


# -- Markdown ----------------------------------------------------------------------------


def render_markdown(document: Doc) -> str:
    parts = [f"# {document.title}"]
    for block in document.blocks:
        if isinstance(block, Heading):
            parts.append(f"## {block.text}")
        elif isinstance(block, Para):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            lines = [_md_row(block.header), _md_row(tuple("---" for _ in block.header))]
            lines += [_md_row(row) for row in block.rows]
            parts.append("\n".join(lines))
        elif isinstance(block, Code):
            parts.append(f"```\n{block.text}\n```")
    return "\n\n".join(parts) + "\n"


def _md_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


# -- Plain text --------------------------------------------------------------------------


def render_text(document: Doc) -> str:
    parts = [f"{document.title}\n{'=' * len(document.title)}"]
    for block in document.blocks:
        if isinstance(block, Heading):
            parts.append(f"{block.text}\n{'-' * len(block.text)}")
        elif isinstance(block, Para):
            # One line per paragraph: wrapping could split a phone number or a key.
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"  * {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append("\n".join(aligned_rows(block)))
        elif isinstance(block, Code):
            parts.append(block.text)
    return "\n\n".join(parts) + "\n"


def aligned_rows(block: Table) -> list[str]:
    """Fixed-width columns, used for text files and Courier tables in PDFs."""
    rows = [block.header, *block.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(block.header))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


# -- HTML --------------------------------------------------------------------------------


def render_html(document: Doc) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(document.title)}</title>",
        "</head>",
        "<body>",
        f"<h1>{esc(document.title)}</h1>",
    ]
    for block in document.blocks:
        if isinstance(block, Heading):
            out.append(f"<h2>{esc(block.text)}</h2>")
        elif isinstance(block, Para):
            out.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>")
            out += [f"  <li>{esc(item)}</li>" for item in block.items]
            out.append("</ul>")
        elif isinstance(block, Table):
            out.append("<table>")
            out.append("  <thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in block.header))
            out[-1] += "</tr></thead>"
            out.append("  <tbody>")
            for row in block.rows:
                out.append("    <tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
            out.append("  </tbody>")
            out.append("</table>")
        elif isinstance(block, Code):
            out.append(f"<pre>{esc(block.text, quote=False)}</pre>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
