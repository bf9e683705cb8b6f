"""Byte-deterministic file writers for generated corpora: text PDFs, DOCX archives and git
histories. The privacy probes' secrets corpus (`evaluation.privacy.secrets_corpus`) writes its
carriers with them, and so does the sample corpus of `examples/northwind`.

PDF: only the standard Type 1 fonts (Helvetica, Helvetica-Bold, Courier) are used, so no font
embedding is needed and pdfminer.six can extract the text with its built-in metrics. Streams are
left uncompressed and nothing time-dependent is written unless the caller passes it in, which
keeps the output byte-identical between runs.

DOCX: python-docx stamps every zip entry with the current time; `normalize_docx_zip` rewrites
the archive with a fixed timestamp per entry.

git: a commit's SHA depends only on its tree, parents, author/committer lines and message, so by
fixing names, emails and timestamps two builds produce the same SHAs. The user's global/system
git config is ignored so that hooks, signing or templates cannot change the result.
"""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter in points
MARGIN = 72
FONTS = {"F1": "Helvetica", "F2": "Helvetica-Bold", "F3": "Courier"}


@dataclass(frozen=True)
class Line:
    text: str
    font: str = "F1"
    size: float = 10.0
    space_before: float = 0.0


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


# ---------------------------------------------------------------- DOCX
def normalize_docx_zip(data: bytes, created: datetime) -> bytes:
    # Zip timestamps have 2-second resolution and no time zone; clamp to the DOS epoch.
    stamp = created.astimezone(UTC)
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, 0)
    source = zipfile.ZipFile(io.BytesIO(data))
    target_buffer = io.BytesIO()
    with zipfile.ZipFile(target_buffer, "w") as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return target_buffer.getvalue()


# ---------------------------------------------------------------- git
EXECUTABLE_SUFFIXES = (".sh",)


@dataclass(frozen=True)
class Commit:
    when: datetime
    author: tuple[str, str]  # (name, email)
    message: str
    changes: dict[str, str | None] = field(default_factory=dict)  # None deletes the path


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Drop inherited GIT_* variables (e.g. GIT_DIR when run from a hook) so they cannot
    # redirect commands to another repository.
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        {
            "TZ": "UTC",
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    env.update(extra or {})
    return env


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None
) -> str:
    base = ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", "-C", str(repo)]
    result = subprocess.run(
        [*base, *args], input=data, capture_output=True, check=False, env=env or git_env()
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode()


def init_repo(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "init", "-q", str(path)],
        check=True,
        env=git_env(),
    )


def _stamp(when: datetime) -> str:
    return f"{int(when.astimezone(UTC).timestamp())} +0000"


def _data(payload: bytes) -> bytes:
    return b"data " + str(len(payload)).encode() + b"\n" + payload + b"\n"


def fast_import_stream(commits: list[Commit], branch: str = "refs/heads/main") -> bytes:
    out = bytearray()
    for mark, commit in enumerate(commits, start=1):
        name, email = commit.author
        ident = f"{name} <{email}> {_stamp(commit.when)}"
        out += f"commit {branch}\nmark :{mark}\nauthor {ident}\ncommitter {ident}\n".encode()
        out += _data(commit.message.rstrip("\n").encode() + b"\n")
        if mark > 1:
            out += f"from :{mark - 1}\n".encode()
        for path in sorted(commit.changes):
            content = commit.changes[path]
            if content is None:
                out += f"D {path}\n".encode()
            else:
                mode = "100755" if path.endswith(EXECUTABLE_SUFFIXES) else "100644"
                out += f"M {mode} inline {path}\n".encode() + _data(content.encode())
        out += b"\n"
    return bytes(out)


def import_history(repo: Path, commits: list[Commit]) -> None:
    """Create ``repo`` with ``commits`` on main and check the working tree out at HEAD."""
    init_repo(repo)
    git(repo, "fast-import", "--quiet", "--date-format=raw", data=fast_import_stream(commits))
    git(repo, "reset", "--hard", "-q", "main")
