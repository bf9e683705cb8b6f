"""Files to elements (title, paragraph, list item, table) under a time and memory limit.

Document formats go through ``unstructured`` in a separate worker process: a parser that hangs
or inflates a bomb is killed and recorded, and the run goes on. The worker starts on the first
file that needs parsing, so a re-run over unchanged files never pays its start-up.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import re
import resource
from dataclasses import dataclass
from multiprocessing.connection import Connection

from ingestion import errors
from ingestion.archive_guard import check_docx, check_pdf_xref_chain
from ingestion.decoding import decode_text
from ingestion.selfcheck import SelfCheckFailed, samples


@dataclass(frozen=True)
class Element:
    """One structural piece of a document."""

    category: str  # Title | NarrativeText | ListItem | Table | Text | ...
    text: str
    depth: int = 0  # heading depth for titles (0 = top)


# ---------------------------------------------------------------- worker side (own process)

def _table_rows(html: str) -> str:
    """Keep a table's rows as 'cell | cell' lines: facts live in the row, not in a bag of cells."""
    from bs4 import BeautifulSoup

    rows = []
    for tr in BeautifulSoup(html, "html.parser").find_all("tr"):
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _partition(fmt: str, payload: str | bytes) -> list[tuple[str, str, int]]:
    import io

    if fmt == "md":
        from unstructured.partition.md import partition_md
        found = partition_md(text=payload, languages=["eng"])
    elif fmt == "txt":
        from unstructured.partition.text import partition_text
        found = partition_text(text=payload, languages=["eng"])
    elif fmt == "html":
        from unstructured.partition.html import partition_html
        found = partition_html(text=payload, languages=["eng"])
    elif fmt == "docx":
        from unstructured.partition.docx import partition_docx
        found = partition_docx(file=io.BytesIO(payload), languages=["eng"])
    elif fmt == "pdf":
        from unstructured.partition.pdf import partition_pdf
        found = partition_pdf(file=io.BytesIO(payload), strategy="fast", languages=["eng"])
    else:
        raise ValueError(f"no document parser for format {fmt!r}")
    out = []
    for el in found:
        category = type(el).__name__
        text = el.text or ""
        html = getattr(el.metadata, "text_as_html", None)
        if category == "Table" and html:
            text = _table_rows(html) or text
        depth = getattr(el.metadata, "category_depth", None) or 0
        if text.strip():
            out.append((category, text, int(depth)))
    return out


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _worker_main(conn: Connection, memory_mb: int) -> None:
    import os

    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import logging

    # A damaged PDF is reported once, as an ingest failure, not as parser noise on stderr.
    for name in ("pypdf", "pdfminer", "unstructured", "pikepdf"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from ingestion import offline_nlp

    offline_nlp.install()
    # Import every parser before capping memory: imports map large address ranges.
    import unstructured.partition.docx
    import unstructured.partition.html
    import unstructured.partition.md
    import unstructured.partition.pdf
    import unstructured.partition.text  # noqa: F401

    # An address-space cap above what is mapped now turns a decompression bomb into a
    # MemoryError we can report, instead of the machine swapping or the OOM killer.
    limit = _address_space_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            request = None
        if request is None:
            # Nothing to flush or clean up here: skip the interpreter's teardown of the parser
            # modules, which kept every refresh waiting ~1.2 s for this process to end.
            conn.close()
            os._exit(0)
        fmt, payload = request
        try:
            conn.send(("ok", _partition(fmt, payload)))
        except BaseException as exc:  # report every parser failure to the parent, then go on
            conn.send(("err", type(exc).__name__, str(exc)[:500]))


# ---------------------------------------------------------------- parent side

class ParserWorker:
    """One long-lived parsing process, restarted after a timeout or a crash."""

    def __init__(self, timeout_s: float, memory_mb: int, *, selfcheck: bool = True) -> None:
        self.timeout_s = timeout_s
        self._selfcheck_pending = selfcheck
        self.memory_mb = memory_mb
        self._proc: mp.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self.files_parsed = 0
        self.start_timeout_s = 120.0  # importing unstructured takes seconds on a cold cache

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # fork after torch/threads is unsafe
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker_main, args=(child, self.memory_mb), daemon=True,
                                 name="kc-parser")
        self._proc.start()
        child.close()
        self._conn = parent

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc, self._conn = None, None

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def __enter__(self) -> ParserWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def partition(self, fmt: str, payload: str | bytes) -> list[Element]:
        first = self._proc is None
        if first:
            self._start()
            if self._selfcheck_pending:  # once per worker, before the first real file
                self._selfcheck_pending = False
                run_selfcheck(self)
                first = False
        assert self._conn is not None
        # The first request also waits for the worker's imports.
        wait = self.timeout_s + (self.start_timeout_s if first else 0)
        try:
            self._conn.send((fmt, payload))
            if not self._conn.poll(wait):
                self._kill()
                raise errors.ParseTimeout(f"parser did not finish within {self.timeout_s:.0f} s")
            reply = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._proc.exitcode if self._proc else None
            self._kill()
            raise errors.ParserCrashed(f"parser process died (exit code {code})") from exc
        self.files_parsed += 1
        if reply[0] == "err":
            _, cls, message = reply
            if cls == "MemoryError":
                raise errors.ParserCrashed(
                    f"parser exceeded the {self.memory_mb} MiB memory limit")
            raise errors.IngestError(f"{cls}: {message}")
        return [Element(c, t, d) for c, t, d in reply[1]]


# ---------------------------------------------------------------- code files (no worker)

_PY_TOP = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)


def code_elements(path: str, text: str) -> list[Element]:
    """Source files: one section per top-level Python definition, else the whole file."""
    if not path.endswith(".py"):
        return [Element("Title", path, 0), Element("Code", text, 0)] if text.strip() else []
    out = [Element("Title", path, 0)]
    starts = [m.start() for m in _PY_TOP.finditer(text)]
    bounds = [0, *starts, len(text)]
    for begin, end in itertools.pairwise(bounds):
        block = text[begin:end]
        if not block.strip():
            continue
        match = _PY_TOP.match(block)
        if match:
            out.append(Element("Title", f"{path} > {match.group(1)}", 1))
        out.append(Element("Code", block, 0))
    return out if len(out) > 1 else []


# ---------------------------------------------------------------- notebooks (no worker)

def notebook_elements(path: str, data: bytes) -> list[Element]:
    """A Jupyter notebook's cells: markdown as text (``#`` lines as titles), code as code.
    Outputs are dropped: they are results (often megabytes of data or images), not knowledge
    someone wrote down."""
    import json

    try:
        notebook = json.loads(data)
        cells = notebook["cells"] if isinstance(notebook, dict) else None
        if not isinstance(cells, list):
            raise ValueError("no list of cells")
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise errors.MalformedDocument(f"not a valid Jupyter notebook (JSON with cells): "
                                       f"{exc}"[:300]) from None
    out = [Element("Title", path, 0)]
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        text = "".join(source) if isinstance(source, list) else str(source)
        if not text.strip():
            continue
        if cell.get("cell_type") == "code":
            out.append(Element("Code", text, 0))
            continue
        for block in re.split(r"\n\s*\n", text):
            heading = re.match(r"(#{1,6})\s+(.*)", block.strip())
            if heading and "\n" not in block.strip():
                out.append(Element("Title", heading.group(2), len(heading.group(1)) - 1))
            elif block.strip():
                out.append(Element("NarrativeText", block.strip(), 0))
    return out if len(out) > 1 else []


# ---------------------------------------------------------------- one entry point

def parse_file(path: str, fmt: str, data: bytes, worker: ParserWorker) -> list[Element]:
    """Elements of one file, or an IngestError saying why there are none."""
    if not data:
        raise errors.EmptyFile("file is empty")
    if fmt == "code":
        text, _ = decode_text(data)
        elements = code_elements(path, text)
    elif fmt in ("md", "txt", "html"):
        text, _ = decode_text(data)
        elements = worker.partition(fmt, text)
    elif fmt == "docx":
        check_docx(data)
        elements = worker.partition(fmt, data)
    elif fmt == "pdf":
        if not data.lstrip()[:5] == b"%PDF-":
            raise errors.IngestError("not a PDF file (no %PDF- header)")
        check_pdf_xref_chain(data)
        elements = worker.partition(fmt, data)
    elif fmt == "ipynb":
        elements = notebook_elements(path, data)
    else:
        raise errors.IngestError(f"unsupported format {fmt!r}")
    if not any(e.text.strip() for e in elements):
        hint = {"pdf": " (image-only, encrypted or damaged PDF; OCR is not enabled)"}
        raise errors.NoTextExtracted(f"no text extracted{hint.get(fmt, '')}")
    return elements


def run_selfcheck(worker: ParserWorker) -> dict[str, int]:
    """Parse one known file per format; raise SelfCheckFailed naming the formats that fail."""
    counts, broken = {}, []
    for fmt, data in samples().items():
        try:
            elements = parse_file(f"selfcheck.{fmt}", fmt, data, worker)
        except Exception as exc:  # collect every broken format, then fail once
            broken.append(f"{fmt}: {type(exc).__name__}: {exc}")
            continue
        text = " ".join(e.text for e in elements)
        if "Dana Whitfield" not in text:
            broken.append(f"{fmt}: parsed, but the known sentence is missing ({text[:80]!r})")
        counts[fmt] = len(elements)
    if broken:
        raise SelfCheckFailed("parser self-check failed: " + "; ".join(broken))
    return counts
