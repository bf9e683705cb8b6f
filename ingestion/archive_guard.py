"""Checks on zip-based formats (docx) before any parser opens them.

python-docx inflates every part into memory and lxml expands DTD entities, so a 1 MB file can
ask for gigabytes. We read only the zip directory and the XML prologues here.
"""

from __future__ import annotations

import io
import re
import zipfile

from ingestion.errors import UnsafeArchive

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
