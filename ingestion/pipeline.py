"""One source into the warehouse: list → skip unchanged → parse → scrub → chunk → write.

Everything a source contributes is written in one DuckDB transaction, so a crash leaves the
previous state. Files whose bytes did not change since the last run are neither read into the
parser nor rewritten: a second run over unchanged input writes nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion import errors, ids
from ingestion.chunking import Chunk, chunk_elements, token_counter
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.parsing import Element, ParserWorker, parse_file
from ingestion.scrub import Redactions, scrub
from ingestion.sources import (
    Candidate,
    Listing,
    Rejected,
    display_path,
    list_folder,
    list_git,
)
from ingestion.warehouse import transaction

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    """What one ingest of one source did."""

    source: str
    files_seen: int = 0
    unchanged: int = 0
    new_documents: int = 0
    changed_documents: int = 0
    deleted_documents: int = 0
    parsed: int = 0
    failed: int = 0
    skipped: int = 0
    versions_written: int = 0
    chunks_written: int = 0
    commits_written: int = 0
    secrets_redacted: int = 0
    pii_redacted: int = 0
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Parsed:
    candidate: Candidate
    content_hash: str
    size: int
    title: str | None
    chunks: list[Chunk]
    redactions: Redactions


def config_hash(spec: SourceSpec, cfg: IngestionConfig) -> str:
    payload = json.dumps([asdict(spec), asdict(cfg)], default=str, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _scrub_elements(elements: list[Element], cfg: IngestionConfig) -> tuple[list[Element],
                                                                            Redactions]:
    total = Redactions()
    out = []
    for el in elements:
        text, found = scrub(el.text, emails=cfg.redact_emails, phones=cfg.redact_phones)
        total.add(found)
        out.append(Element(el.category, text, el.depth))
    return out, total


def _title(elements: list[Element], path: str) -> str:
    for el in elements:
        if el.category == "Title":
            return " ".join(el.text.split())[:200]
    return path.rsplit("/", 1)[-1]


def _process(candidate: Candidate, data: bytes, digest: str, cfg: IngestionConfig,
             worker: ParserWorker) -> _Parsed:
    # Text formats are scrubbed before parsing too, so a secret split across elements
    # (a private key block) is removed whole.
    pre = Redactions()
    if candidate.fmt in ("md", "txt", "html", "code"):
        from ingestion.decoding import decode_text

        text, _ = decode_text(data)
        text, pre = scrub(text, emails=cfg.redact_emails, phones=cfg.redact_phones)
        data = text.encode("utf-8")
    elements = parse_file(candidate.path, candidate.fmt, data, worker)
    elements, post = _scrub_elements(elements, cfg)
    pre.add(post)
    counter = token_counter(cfg.tokenizer_path)
    chunks = chunk_elements(elements, chunk_tokens=cfg.chunk_tokens, overlap=cfg.chunk_overlap,
                            counter=counter)
    if not chunks:
        raise errors.NoTextExtracted("no text left after parsing and scrubbing")
    return _Parsed(candidate, digest, len(data), _title(elements, candidate.path), chunks, pre)


def _existing_state(con: duckdb.DuckDBPyConnection, source_id: str) -> tuple[dict, dict, dict]:
    docs = {row[0]: row[1:] for row in con.execute(
        "select path, document_id, current_content_hash, is_deleted from raw.documents "
        "where source_id = ?", [source_id]).fetchall()}
    failures = {row[0]: row[1:] for row in con.execute(
        "select path, content_hash, reason, exception_class, observed_at "
        "from raw.ingest_failures where source_id = ?", [source_id]).fetchall()}
    versions = {(row[0], row[1]): row[2] for row in con.execute(
        "select v.document_id, v.content_hash, v.version_number from raw.document_versions v "
        "join raw.documents d using (document_id) where d.source_id = ?", [source_id]).fetchall()}
    return docs, failures, versions


def ingest_source(con: duckdb.DuckDBPyConnection, spec: SourceSpec, cfg: IngestionConfig, *,
                  home: Path, worker: ParserWorker, now: datetime | None = None,
                  progress: Progress | None = None, listing: Listing | None = None,
                  after_write: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
                  ) -> IngestReport:
    """Ingest one source. Bad files become failure rows; the run always goes on.

    ``listing`` replaces the source's own listing (a GitHub repository: its files and its
    issues, listed by ``ingestion.github``); ``after_write`` writes more rows inside the same
    transaction (the GitHub state that must commit or roll back with the documents)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    report = IngestReport(spec.name)
    if listing is None:
        listing = (list_git(spec, cfg, home) if spec.type == "git"
                   else list_folder(spec, cfg))
    docs, old_failures, versions = _existing_state(con, spec.name)
    report.skipped = listing.skipped
    report.files_seen = len(listing.candidates)
    parsed: list[_Parsed] = []
    failures: list[tuple[Rejected, str | None]] = [(r, None) for r in listing.rejected]
    for i, candidate in enumerate(listing.candidates, 1):
        if progress:
            progress(i, len(listing.candidates), candidate.path)
        try:
            if candidate.size > cfg.max_file_bytes:
                raise errors.FileTooLarge(f"file is {candidate.size / 2**20:.1f} MiB, over "
                                          f"max_file_mb {cfg.max_file_mb:g}")
            data = candidate.read()
            if len(data) > cfg.max_file_bytes:
                raise errors.FileTooLarge(f"file grew over max_file_mb {cfg.max_file_mb:g}")
        except (OSError, errors.IngestError) as exc:
            failures.append((Rejected(candidate.path, str(exc), type(exc).__name__), None))
            continue
        digest = ids.content_hash(data)
        known = docs.get(candidate.path)
        if known and known[1] == digest and not known[2]:
            report.unchanged += 1
            continue
        old = old_failures.get(candidate.path)
        if old and old[0] == digest:  # failed before on these very bytes: do not retry
            failures.append((Rejected(candidate.path, old[1], old[2]), digest))
            continue
        try:
            report.parsed += 1
            parsed.append(_process(candidate, data, digest, cfg, worker))
        except errors.IngestError as exc:
            failures.append((Rejected(candidate.path, str(exc), type(exc).__name__), digest))
        except (UnicodeError, ValueError, OSError) as exc:
            failures.append((Rejected(candidate.path, f"{type(exc).__name__}: {exc}"[:500],
                                      type(exc).__name__), digest))
    seen = {c.path for c in listing.candidates} | {r.path for r in listing.rejected}
    with transaction(con):
        _write_source(con, spec, cfg, listing, now)
        _write_documents(con, spec, parsed, docs, versions, seen, now, report)
        _write_failures(con, spec.name, failures, old_failures, now, report)
        _write_history(con, spec.name, listing, report)
        if after_write is not None:
            after_write(con)
    unregister_staging(con)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _write_source(con, spec: SourceSpec, cfg: IngestionConfig, listing: Listing,
                  now: datetime) -> None:
    uri = spec.url or str(spec.path)
    con.execute("delete from raw.sources where source_id = ?", [spec.name])
    con.execute("insert into raw.sources values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [spec.name, spec.type, uri, spec.tenant, list(spec.acl_groups), spec.route,
                 listing.head_commit, config_hash(spec, cfg), now])


def _write_documents(con, spec: SourceSpec, parsed: list[_Parsed], docs: dict, versions: dict,
                     seen: set[str], now: datetime, report: IngestReport) -> None:
    doc_rows, version_rows, chunk_rows, replaced = [], [], [], []
    for p in parsed:
        doc_id = ids.document_id(spec.name, p.candidate.path)
        known = docs.get(p.candidate.path)
        if known is None:
            report.new_documents += 1
        else:
            report.changed_documents += 1
            replaced.append(doc_id)
        doc_rows.append((doc_id, spec.name, p.candidate.path, p.candidate.fmt, p.title,
                         p.content_hash, now))
        # A return to an earlier content reuses that version row (the key is the content).
        if (doc_id, p.content_hash) not in versions:
            number = 1 + max((n for (d, _), n in versions.items() if d == doc_id), default=0)
            secrets = sum(p.redactions.secrets.values())
            pii = sum(p.redactions.pii.values())
            version_rows.append((doc_id, p.content_hash, number, now, p.candidate.modified_at,
                                 p.size, len(p.chunks), secrets, pii,
                                 json.dumps(p.redactions.as_dict())))
            report.versions_written += 1
            report.secrets_redacted += secrets
            report.pii_redacted += pii
        for c in p.chunks:
            chunk_rows.append((ids.chunk_id(doc_id, p.content_hash, c.index), doc_id,
                               p.content_hash, c.index, c.section, c.text, c.n_tokens,
                               list(c.element_types)))
    gone = [(path, row[0]) for path, row in docs.items() if path not in seen and not row[2]]
    for doc_id in replaced + [doc_id for _, doc_id in gone]:
        con.execute("delete from raw.chunks where document_id = ?", [doc_id])
    for _, doc_id in gone:
        con.execute("update raw.documents set is_deleted = true, deleted_at = ?, "
                    "current_content_hash = null where document_id = ?", [now, doc_id])
    report.deleted_documents = len(gone)
    if doc_rows:
        _insert(con, "staged_docs", doc_rows, ["document_id", "source_id", "path", "format",
                                               "title", "current_content_hash", "first_seen_at"])
        con.execute("""
            insert into raw.documents
            select document_id, source_id, path, format, title, current_content_hash,
                   first_seen_at, false, null from staged_docs
            on conflict (document_id) do update set
                title = excluded.title, format = excluded.format,
                current_content_hash = excluded.current_content_hash,
                is_deleted = false, deleted_at = null""")
    if version_rows:
        _insert(con, "staged_versions", version_rows, [
            "document_id", "content_hash", "version_number", "observed_at", "modified_at",
            "size_bytes", "n_chunks", "secrets_redacted", "pii_redacted", "redactions"])
        con.execute("insert into raw.document_versions select document_id, content_hash, "
                    "version_number, observed_at, modified_at, size_bytes, n_chunks, "
                    "secrets_redacted, pii_redacted, redactions::json from staged_versions")
    if chunk_rows:
        _insert(con, "staged_chunks", chunk_rows, ["chunk_id", "document_id", "content_hash",
                                                   "chunk_index", "section", "text", "n_tokens",
                                                   "element_types"])
        con.execute("insert into raw.chunks select * from staged_chunks")
        report.chunks_written = len(chunk_rows)


def _write_failures(con, source_id: str, failures: list[tuple[Rejected, str | None]],
                    old: dict, now: datetime, report: IngestReport) -> None:
    con.execute("delete from raw.ingest_failures where source_id = ?", [source_id])
    rows = {}
    for rejected, digest in failures:
        before = old.get(rejected.path)
        observed = before[3] if before and before[0] == digest else now
        rows[rejected.path] = (source_id, rejected.path, digest, rejected.reason,
                               rejected.exception_class, observed)
    if rows:
        con.executemany("insert into raw.ingest_failures values (?, ?, ?, ?, ?, ?)",
                        list(rows.values()))
    report.failed = len(rows)
    report.failures = [{"path": r[1], "reason": r[3], "exception": r[4]} for r in rows.values()]


def _write_history(con, source_id: str, listing: Listing, report: IngestReport) -> None:
    if not listing.commits:
        return
    known = {row[0] for row in con.execute(
        "select commit_sha from raw.git_commits where source_id = ?", [source_id]).fetchall()}
    commits, changes = [], []
    for c in listing.commits:
        if c.sha in known:
            continue
        subject, _ = scrub(c.subject)
        commits.append((source_id, c.sha, c.committed_at, c.authored_at, c.author_name,
                        ids.email_hash(c.author_email), subject, len(c.changes)))
        for raw_path, added, removed in c.changes:
            path = display_path(os.fsencode(raw_path))
            changes.append((source_id, c.sha, path, ids.document_id(source_id, path),
                            c.committed_at, added, removed))
    if commits:
        _insert(con, "staged_commits", commits, ["source_id", "commit_sha", "committed_at",
                                                 "authored_at", "author_name", "author_hash",
                                                 "message", "files_changed"])
        con.execute("insert into raw.git_commits select * from staged_commits")
    if changes:
        _insert(con, "staged_changes", changes, ["source_id", "commit_sha", "path",
                                                 "document_id", "committed_at", "lines_added",
                                                 "lines_removed"])
        con.execute("insert into raw.git_file_changes select * from staged_changes")
    report.commits_written = len(commits)


def _insert(con, name: str, rows: list[tuple], columns: list[str]) -> None:
    """Register rows as an Arrow table: one bulk insert instead of a statement per row."""
    table = pa.table({col: [r[i] for r in rows] for i, col in enumerate(columns)})
    con.register(name, table)


def unregister_staging(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("staged_docs", "staged_versions", "staged_chunks", "staged_commits",
                 "staged_changes"):
        con.unregister(name)
