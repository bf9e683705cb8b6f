"""Checks on container formats (docx, PDF) before any parser opens them.

python-docx inflates every part into memory and lxml expands DTD entities, so a 1 MB file can
ask for gigabytes. We read only the zip directory and the XML prologues here. A PDF's
cross-reference sections form a chain (``startxref`` -> ``/Prev`` -> ...); a chain that loops
sends some readers round it forever, so it is walked here first, by offsets only.
"""

from __future__ import annotations

import io
import re
import zipfile

from ingestion.errors import MalformedDocument, UnsafeArchive

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200  # deflate rarely beats 100:1 on real documents
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def check_docx(data: bytes) -> None:
    """Raise UnsafeArchive for zip bombs, zip-slip names and XML with DTDs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"not a valid docx (zip) file: {exc}") from exc
    with archive:
        infos = archive.infolist()
        total = sum(i.file_size for i in infos)
        compressed = sum(i.compress_size for i in infos) or 1
        if total > MAX_UNCOMPRESSED_BYTES:
            raise UnsafeArchive(f"docx inflates to {total / 2**20:.0f} MiB "
                                f"(limit {MAX_UNCOMPRESSED_BYTES / 2**20:.0f} MiB): zip bomb")
        if total / compressed > MAX_RATIO and total > 10 * 1024 * 1024:
            raise UnsafeArchive(f"docx compression ratio {total / compressed:.0f}:1: zip bomb")
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
                raise UnsafeArchive(f"docx entry {name!r} escapes the archive (zip slip)")
            if name.endswith((".xml", ".rels")):
                with archive.open(info) as part:
                    head = part.read(4096)
                if _DTD.search(head):
                    raise UnsafeArchive(f"docx part {name} declares a DTD/entities "
                                        "(XML entity expansion attack)")


_STARTXREF = re.compile(rb"startxref\s+(\d+)")
_PREV = re.compile(rb"/Prev\s+(\d+)")
MAX_XREF_SECTIONS = 1000


def check_pdf_xref_chain(data: bytes) -> None:
    """Raise MalformedDocument when the PDF's xref chain comes back to a section it has seen.

    Only the chain is followed; a missing or damaged section is left to the parser (which
    reports it as no text extracted)."""
    found = _STARTXREF.findall(data[-2048:])
    if not found:
        return
    offset, seen = int(found[-1]), set()
    while 0 < offset < len(data):
        if offset in seen:
            raise MalformedDocument(f"PDF cross-reference chain loops (section at byte {offset} "
                                    "is reached twice): the file is damaged or hostile")
        if len(seen) >= MAX_XREF_SECTIONS:
            raise MalformedDocument(f"PDF has over {MAX_XREF_SECTIONS} cross-reference sections")
        seen.add(offset)
        section = data[offset:offset + 65536]
        end = section.find(b"startxref")  # this section's trailer ends before its startxref
        prev = _PREV.search(section, 0, end if end >= 0 else len(section))
        if prev is None:
            return
        offset = int(prev.group(1))
