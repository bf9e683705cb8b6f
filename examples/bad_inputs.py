"""Generator of hostile / awkward input files for exercising the ingestion pipeline.

``make_bad_corpus(root)`` writes one or more files per *kind* under ``root`` and returns
a list of :class:`BadFile` records describing what the pipeline is expected to do with
each of them: ``"quarantine"`` (must be recorded as an ingest failure) or ``"ingest"``
(valid content that must be ingested; ``expected_text`` is a substring the decoded text
must contain).

Every kind is produced by one helper registered in :data:`REGISTRY` (use the
:func:`register` decorator to add new kinds). Helpers receive the root directory as
``bytes`` so that file names which are not valid UTF-8 can be created. Everything is
deterministic (fixed seeds, fixed zip timestamps).

Size / time budget: the whole corpus takes roughly 82 MB on disk (the 50 MiB single-line
file and the 30 MiB notebook dominate; the 1 GiB zip bomb is ~1 MB compressed, the 2 GiB
sparse file a few KiB) and generates in ~1 s.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENCRYPTED_PDF_PASSWORD",
    "HUGE_LINE_SIZE",
    "KINDS",
    "REGISTRY",
    "ZIP_BOMB_UNCOMPRESSED_SIZE",
    "BadFile",
    "make_bad_corpus",
    "register",
]

QUARANTINE = "quarantine"
INGEST = "ingest"

ENCRYPTED_PDF_PASSWORD = "secret-pw"
#: Declared (and real) uncompressed size of ``word/document.xml`` inside ``bomb.docx``.
ZIP_BOMB_UNCOMPRESSED_SIZE = 1 << 30  # 1 GiB (plus a few hundred bytes of XML wrapper)
#: Size of the single-line ``huge.txt`` file.
HUGE_LINE_SIZE = 50 * 1024 * 1024  # 50 MiB


@dataclass(frozen=True)
class BadFile:
    relpath: bytes  # path relative to root, as bytes (some names are not valid UTF-8)
    kind: str  # short id, see KINDS
    expect: str  # "quarantine" or "ingest"
    expected_text: str | None = None  # for "ingest" files: substring the decoded text contains


Helper = Callable[[bytes], list[BadFile]]
REGISTRY: dict[str, Helper] = {}


def register(kind: str) -> Callable[[Helper], Helper]:
    """Register ``fn`` as the generator for ``kind`` (kinds are generated in insertion order)."""

    def deco(fn: Helper) -> Helper:
        if kind in REGISTRY:
            raise ValueError(f"duplicate bad-input kind: {kind}")
        REGISTRY[kind] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- low-level io


def _abs(root: bytes, relpath: bytes) -> bytes:
    return os.path.join(root, relpath)


def _clear(path: bytes) -> None:
    """Remove whatever is at ``path`` (file, symlink, even a chmod-000 file) for idempotency."""
    if os.path.lexists(path):
        os.unlink(path)


def _write(root: bytes, relpath: bytes, data: bytes | Iterable[bytes]) -> bytes:
    path = _abs(root, relpath)
    _clear(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as fh:
        if isinstance(data, bytes):
            fh.write(data)
        else:
            for chunk in data:
                fh.write(chunk)
    return path


def _symlink(root: bytes, relpath: bytes, target: bytes) -> None:
    path = _abs(root, relpath)
    _clear(path)
    os.symlink(target, path)


# --------------------------------------------------------------------------- PDF building


def _pdf(objects: list[bytes]) -> bytes:
    """Serialise ``objects`` (object 1 must be the catalog) into a PDF with a correct xref."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n" % (len(objects) + 1))
    out.write(b"0000000000 65535 f \n")
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(content), extra) + content + b"\nendstream"


_PDF_LINES = [
    "Knowledge Compiler quarterly operations report.",
    "The harbour inspection team reviewed forty two vessels this quarter.",
    "Maintenance backlog decreased by eleven percent compared to last year.",
]


def _text_pdf(lines: list[str]) -> bytes:
    ops = [b"BT", b"/F1 11 Tf", b"14 TL", b"72 760 Td"]
    for line in lines:
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + esc.encode("latin-1") + b") Tj T*")
    ops.append(b"ET")
    content = b"\n".join(ops)
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            _stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        ]
    )


def _image_only_pdf() -> bytes:
    w = h = 16
    pixels = bytes(0x60 + ((x + y) % 8) * 8 for y in range(h) for x in range(w))  # grey ramp
    content = b"q 200 0 0 200 206 296 cm /Im0 Do Q"
    image = _stream(
        pixels,
        b"/Type /XObject /Subtype /Image /Width %d /Height %d "
        b"/ColorSpace /DeviceGray /BitsPerComponent 8 " % (w, h),
    )
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
            _stream(content),
            image,
        ]
    )


# --------------------------------------------------------------------------- DOCX building

_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, fixed for determinism
_DOS_TIME = 0

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/>'
    b"</Relationships>"
)
_W_NS = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_DOC_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="' + _W_NS + b'"><w:body><w:p><w:r><w:t>'
)
_DOC_TAIL = b"</w:t></w:r></w:p></w:body></w:document>"


@dataclass
class _ZipEntry:
    name: bytes
    crc: int
    compressed: bytes  # raw deflate stream
    size: int  # uncompressed size


def _deflated_entry(name: bytes, data: bytes) -> _ZipEntry:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = comp.compress(data) + comp.flush()
    return _ZipEntry(name, zlib.crc32(data), raw, len(data))


def _write_zip(path: bytes, entries: list[_ZipEntry]) -> None:
    """Minimal deterministic ZIP writer (deflate, no zip64: every entry is < 4 GiB)."""
    _clear(path)
    central = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as fh:
        for e in entries:
            offset = fh.tell()
            fh.write(
                struct.pack(
                    "<IHHHHHIIIHH",
                    0x04034B50,
                    20,
                    0,
                    8,
                    _DOS_TIME,
                    _DOS_DATE,
                    e.crc,
                    len(e.compressed),
                    e.size,
                    len(e.name),
                    0,
                )
            )
            fh.write(e.name)
            fh.write(e.compressed)
            central.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    20,
                    20,
                    0,
                    8,
                    _DOS_TIME,
                    _DOS_DATE,
                    e.crc,
                    len(e.compressed),
                    e.size,
                    len(e.name),
                    0,
                    0,
                    0,
                    0,
                    0o644 << 16,
                    offset,
                )
                + e.name
            )
        cd_offset = fh.tell()
        cd = b"".join(central)
        fh.write(cd)
        fh.write(
            struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), cd_offset, 0
            )
        )


def _docx(path: bytes, document: _ZipEntry) -> None:
    _write_zip(
        path,
        [
            _deflated_entry(b"[Content_Types].xml", _CONTENT_TYPES),
            _deflated_entry(b"_rels/.rels", _RELS),
            document,
        ],
    )


_BOMB_CHUNK = b"ZIPBOMB " * (1 << 17)  # exactly 1 MiB


def _zip_bomb_document(n_chunks: int) -> _ZipEntry:
    """``word/document.xml`` = XML head + ``n_chunks`` MiB of text + XML tail.

    The deflate stream is built without compressing a GiB: after a ``Z_FULL_FLUSH`` the
    compressor's history is reset, so compressing the same 1 MiB chunk yields identical
    bytes each time and the compressed chunk can simply be repeated. Only the CRC has
    to walk the full uncompressed length (~0.5 s per GiB).
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(_DOC_HEAD) + comp.flush(zlib.Z_FULL_FLUSH)
    chunk = comp.compress(_BOMB_CHUNK) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(_BOMB_CHUNK) + comp.flush(zlib.Z_FULL_FLUSH)
    assert chunk == again, "deflate output after full flush is not reproducible"
    pieces = [head, chunk * n_chunks]
    # `again` consumed one extra chunk in the compressor, so it is simply not emitted.
    tail_comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    pieces.append(tail_comp.compress(_DOC_TAIL) + tail_comp.flush())
    # Concatenating raw deflate streams is valid only because every block before the tail
    # is non-final (BFINAL=0) and byte aligned, and the tail stream starts fresh without
    # back-references.
    crc = zlib.crc32(_DOC_HEAD)
    for _ in range(n_chunks):
        crc = zlib.crc32(_BOMB_CHUNK, crc)
    crc = zlib.crc32(_DOC_TAIL, crc)
    size = len(_DOC_HEAD) + n_chunks * len(_BOMB_CHUNK) + len(_DOC_TAIL)
    return _ZipEntry(b"word/document.xml", crc, b"".join(pieces), size)


def _entity_bomb_document() -> bytes:
    ents = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        ents.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE w:document [\n  " + "\n  ".join(ents) + "\n]>\n"
        f'<w:document xmlns:w="{_W_NS.decode()}"><w:body><w:p><w:r>'
        "<w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    ).encode("utf-8")


# --------------------------------------------------------------------------- kinds


@register("good_md")
def _good_md(root: bytes) -> list[BadFile]:
    text = (
        "# Onboarding guide\n\n"
        "New engineers should request repository access on their first day.\n\n"
        "The staging cluster is rebuilt every Sunday at midnight UTC.\n"
    )
    _write(root, b"good.md", text.encode())
    return [BadFile(b"good.md", "good_md", INGEST, "staging cluster is rebuilt every Sunday")]


@register("empty")
def _empty(root: bytes) -> list[BadFile]:
    _write(root, b"empty.md", b"")
    return [BadFile(b"empty.md", "empty", QUARANTINE)]


@register("truncated_pdf")
def _truncated_pdf(root: bytes) -> list[BadFile]:
    data = _text_pdf(_PDF_LINES * 5)
    _write(root, b"truncated.pdf", data[: len(data) // 2])
    return [BadFile(b"truncated.pdf", "truncated_pdf", QUARANTINE)]


@register("encrypted_pdf")
def _encrypted_pdf(root: bytes) -> list[BadFile]:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_text_pdf(_PDF_LINES))))
    writer.encrypt(
        user_password=ENCRYPTED_PDF_PASSWORD,
        owner_password="owner-" + ENCRYPTED_PDF_PASSWORD,
        algorithm="AES-128",
    )
    buf = io.BytesIO()
    writer.write(buf)
    _write(root, b"encrypted.pdf", buf.getvalue())
    return [BadFile(b"encrypted.pdf", "encrypted_pdf", QUARANTINE)]


@register("image_only_pdf")
def _image_only(root: bytes) -> list[BadFile]:
    _write(root, b"image_only.pdf", _image_only_pdf())
    return [BadFile(b"image_only.pdf", "image_only_pdf", QUARANTINE)]


@register("binary_md")
def _binary_md(root: bytes) -> list[BadFile]:
    data = bytearray(random.Random(1234).randbytes(4096))
    for i in range(0, len(data), 97):  # guarantee plenty of NULs
        data[i] = 0
    _write(root, b"random.md", bytes(data))
    return [BadFile(b"random.md", "binary_md", QUARANTINE)]


@register("cp1252_txt")
def _cp1252(root: bytes) -> list[BadFile]:
    text = "Café menu: crème brûlée costs 5€ — naïve façade.\n"
    _write(root, b"cp1252.txt", text.encode("cp1252"))
    return [BadFile(b"cp1252.txt", "cp1252_txt", INGEST, "crème brûlée")]


@register("shift_jis_txt")
def _sjis(root: bytes) -> list[BadFile]:
    text = "東京オフィスの営業時間は午前九時から午後六時までです。\n"
    _write(root, b"sjis.txt", text.encode("shift_jis"))
    return [BadFile(b"sjis.txt", "shift_jis_txt", INGEST, "東京オフィス")]


@register("utf16_nobom_txt")
def _utf16(root: bytes) -> list[BadFile]:
    text = (
        "Reminder: the lighthouse keeper rotation changes on the first Monday of April.\n"
        "Please update the shared calendar before then.\n"
    )
    _write(root, b"utf16.txt", text.encode("utf-16-le"))  # utf-16-le never emits a BOM
    return [BadFile(b"utf16.txt", "utf16_nobom_txt", INGEST, "lighthouse keeper rotation")]


@register("nul_after_8k")
def _late_nul(root: bytes) -> list[BadFile]:
    line = b"This line is perfectly ordinary ASCII text used as padding.\n"
    head = (line * (9 * 1024 // len(line) + 1))[: 9 * 1024]
    _write(root, b"late_nul.txt", head + b"\x00" + b"more text after the NUL byte\n")
    return [BadFile(b"late_nul.txt", "nul_after_8k", QUARANTINE)]


@register("docx_zip_bomb")
def _zip_bomb(root: bytes) -> list[BadFile]:
    n_chunks = -(-ZIP_BOMB_UNCOMPRESSED_SIZE // len(_BOMB_CHUNK))
    _docx(_abs(root, b"bomb.docx"), _zip_bomb_document(n_chunks))
    return [BadFile(b"bomb.docx", "docx_zip_bomb", QUARANTINE)]


@register("docx_entity_bomb")
def _entity_bomb(root: bytes) -> list[BadFile]:
    _docx(
        _abs(root, b"laughs.docx"),
        _deflated_entry(b"word/document.xml", _entity_bomb_document()),
    )
    return [BadFile(b"laughs.docx", "docx_entity_bomb", QUARANTINE)]


@register("huge_single_line")
def _huge(root: bytes) -> list[BadFile]:
    block = b"lorem ipsum dolor sit amet " * (1 << 16)
    block = (block * 2)[: 1 << 20]  # 1 MiB, no newline

    def chunks() -> Iterable[bytes]:
        remaining = HUGE_LINE_SIZE
        while remaining:
            n = min(remaining, len(block))
            yield block[:n]
            remaining -= n

    _write(root, b"huge.txt", chunks())
    return [BadFile(b"huge.txt", "huge_single_line", QUARANTINE)]


@register("symlink_outside")
def _symlink_outside(root: bytes) -> list[BadFile]:
    root_dir = os.path.abspath(root)
    outside = os.path.join(os.path.dirname(root_dir), os.path.basename(root_dir) + b"_outside")
    os.makedirs(outside, exist_ok=True)
    target = os.path.join(outside, b"secret.md")
    _write(outside, b"secret.md", b"# Secret\n\nThis file lives outside the corpus root.\n")
    _symlink(root, b"outside.md", target)
    return [BadFile(b"outside.md", "symlink_outside", QUARANTINE)]


@register("symlink_loop")
def _symlink_loop(root: bytes) -> list[BadFile]:
    _symlink(root, b"loop_a.md", b"loop_b.md")
    _symlink(root, b"loop_b.md", b"loop_a.md")
    return [
        BadFile(b"loop_a.md", "symlink_loop", QUARANTINE),
        BadFile(b"loop_b.md", "symlink_loop", QUARANTINE),
    ]


@register("unreadable")
def _unreadable(root: bytes) -> list[BadFile]:
    path = _write(root, b"unreadable.md", b"# Unreadable\n\nPerfectly valid text, no access.\n")
    os.chmod(path, 0)
    return [BadFile(b"unreadable.md", "unreadable", QUARANTINE)]


def _named_md(root: bytes, relpath: bytes, kind: str, phrase: str) -> list[BadFile]:
    _write(root, relpath, f"# Odd file name\n\n{phrase}.\n".encode())
    return [BadFile(relpath, kind, INGEST, phrase)]


@register("name_newline")
def _name_newline(root: bytes) -> list[BadFile]:
    return _named_md(root, b"line\nbreak.md", "name_newline", "Newline names keep the parser alert")


@register("name_non_utf8")
def _name_non_utf8(root: bytes) -> list[BadFile]:
    return _named_md(root, b"caf\xe9.md", "name_non_utf8", "Latin-1 byte names still hold notes")


@register("name_leading_dash")
def _name_dash(root: bytes) -> list[BadFile]:
    return _named_md(root, b"-rf.md", "name_leading_dash", "Leading dash names are not options")


@register("pdf_xref_loop")
def _xref_loop(root: bytes) -> list[BadFile]:
    """A valid PDF plus an incremental-update xref section whose /Prev points at itself."""
    base = _text_pdf(_PDF_LINES)
    loop_at = len(base)
    update = (b"xref\n0 1\n0000000000 65535 f \n"
              b"trailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
              % (loop_at, loop_at))
    _write(root, b"xref_loop.pdf", base + update)
    return [BadFile(b"xref_loop.pdf", "pdf_xref_loop", QUARANTINE)]


@register("docx_zip_slip")
def _zip_slip(root: bytes) -> list[BadFile]:
    document = _DOC_HEAD + b"Quarterly plan." + _DOC_TAIL
    _write_zip(_abs(root, b"slip.docx"), [
        _deflated_entry(b"[Content_Types].xml", _CONTENT_TYPES),
        _deflated_entry(b"_rels/.rels", _RELS),
        _deflated_entry(b"word/document.xml", document),
        _deflated_entry(b"../../../../tmp/kc-zip-slip.sh", b"#!/bin/sh\necho owned\n"),
    ])
    return [BadFile(b"slip.docx", "docx_zip_slip", QUARANTINE)]


NOTEBOOK_OUTPUT_SIZE = 30 * 1024 * 1024  # one cell's output, base64 text


@register("ipynb_huge_output")
def _notebook_huge_output(root: bytes) -> list[BadFile]:
    blob = (b"iVBORw0KGgo" * (NOTEBOOK_OUTPUT_SIZE // 11 + 1))[:NOTEBOOK_OUTPUT_SIZE]
    head = (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
            b'{"cell_type": "markdown", "metadata": {}, "source": ["# Forecast notebook"]},'
            b'{"cell_type": "code", "metadata": {}, "execution_count": 1, '
            b'"source": ["plot(forecast)"], "outputs": [{"output_type": "display_data", '
            b'"metadata": {}, "data": {"image/png": "')
    _write(root, b"forecast.ipynb", [head, blob, b'"}}]}]}\n'])
    return [BadFile(b"forecast.ipynb", "ipynb_huge_output", QUARANTINE)]


@register("ipynb_not_json")
def _notebook_not_json(root: bytes) -> list[BadFile]:
    _write(root, b"broken.ipynb", b'{"cells": [{"cell_type": "markdown", "source": ["# Cut')
    return [BadFile(b"broken.ipynb", "ipynb_not_json", QUARANTINE)]


SPARSE_SIZE = 2 * 1024**3


@register("sparse_2gb")
def _sparse(root: bytes) -> list[BadFile]:
    """2 GiB of apparent size, a few KiB on disk: size checks must come before any read."""
    path = _write(root, b"sparse.txt", b"Sparse file header line.\n")
    os.truncate(path, SPARSE_SIZE)
    return [BadFile(b"sparse.txt", "sparse_2gb", QUARANTINE)]


DEEP_LEVELS = 500


@register("deep_dir_500")
def _deep_dir(root: bytes) -> list[BadFile]:
    """``deep/d/d/.../d/bottom.md``, 500 folders down. Ingestion stops walking at its depth
    limit; the failure row names the first folder past it."""
    from ingestion.sources import MAX_FOLDER_DEPTH

    deepest = os.path.join(b"deep", *([b"d"] * (DEEP_LEVELS - 1)))
    os.makedirs(_abs(root, deepest), exist_ok=True)
    _write(root, os.path.join(deepest, b"bottom.md"), b"# Bottom\n\nFive hundred levels.\n")
    first_too_deep = os.path.join(b"deep", *([b"d"] * MAX_FOLDER_DEPTH))
    return [BadFile(first_too_deep, "deep_dir_500", QUARANTINE)]


@register("good_ipynb")
def _good_notebook(root: bytes) -> list[BadFile]:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {},
         "source": ["# Churn analysis\n", "\n", "Churn rose after the March price change."]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["df.churn.mean()"],
         "outputs": [{"output_type": "execute_result", "metadata": {}, "execution_count": 1,
                      "data": {"text/plain": ["0.0731"]}}]}]}
    import json

    _write(root, b"churn.ipynb", json.dumps(notebook).encode())
    return [BadFile(b"churn.ipynb", "good_ipynb", INGEST, "Churn rose after the March price")]


KINDS: tuple[str, ...] = tuple(REGISTRY)


def make_bad_corpus(root: Path) -> list[BadFile]:
    """Create every registered kind of bad input under ``root``; return their descriptions.

    Re-running over an existing root overwrites the files. Symlinks are not followed when
    replacing (``outside.md``'s target lives in ``<root>_outside/`` next to ``root``).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    broot = os.fsencode(root)
    out: list[BadFile] = []
    for fn in REGISTRY.values():
        out.extend(fn(broot))
    return out
