"""ingest_source end to end on small folders and repositories: ids, versions, idempotence."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion import ids
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.pipeline import ingest_source
from ingestion.warehouse import connect, table_counts
from tests.conftest import git

CFG = IngestionConfig(chunk_tokens=64, chunk_overlap=8)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 8, tzinfo=UTC)


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "travel.md").write_text(
        "# Travel policy\n\n## Trains\n\nTrains over 4 hours may be booked in first class.\n\n"
        "## Hotels\n\nThe nightly hotel limit is 180 EUR in Berlin.\n")
    (root / "status.txt").write_text("Service status\n\nThe payments API is degraded.\n")
    (root / "notes.html").write_text("<h1>Notes</h1><p>Contact ops@corp.example for access. "
                                     "The deploy password: Hunter2Hunter2 is rotated.</p>")
    (root / "image.png").write_bytes(b"\x89PNG")  # not a format we read: skipped, not failed
    return root


def _spec(root: Path, name: str = "docs", kind: str = "documents") -> SourceSpec:
    return SourceSpec(name=name, type=kind, tenant="eng", acl_groups=("eng",), path=root)


def _ingest(tmp_path, spec, worker, now=T0):
    with connect(tmp_path / "wh.duckdb") as con:
        report = ingest_source(con, spec, CFG, home=tmp_path, worker=worker, now=now)
        counts = table_counts(con)
    return report, counts


def test_folder_ingest_and_second_run_writes_nothing(tmp_path, parser_worker):
    root = _folder(tmp_path)
    first, counts = _ingest(tmp_path, _spec(root), parser_worker)
    assert (first.new_documents, first.failed, first.skipped) == (3, 0, 1)
    assert counts["documents"] == 3 and counts["document_versions"] == 3
    assert first.pii_redacted == 1 and first.secrets_redacted == 1
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        texts = " ".join(r[0] for r in con.execute("select text from raw.chunks").fetchall())
        sections = {r[0] for r in con.execute("select section from raw.chunks").fetchall()}
        doc_id = con.execute("select document_id from raw.documents where path = ?",
                             ["policies/travel.md"]).fetchone()[0]
    assert "ops@corp.example" not in texts and "Hunter2Hunter2" not in texts
    assert "180 EUR" in texts
    assert {"Travel policy > Trains", "Travel policy > Hotels"} <= sections
    assert doc_id == ids.document_id("docs", "policies/travel.md")

    second, counts2 = _ingest(tmp_path, _spec(root), parser_worker, now=T1)
    assert counts2 == counts
    assert (second.parsed, second.unchanged, second.versions_written, second.chunks_written) == (
        0, 3, 0, 0)


def test_changing_one_file_adds_one_version_and_replaces_only_its_chunks(tmp_path,
                                                                         parser_worker):
    root = _folder(tmp_path)
    _ingest(tmp_path, _spec(root), parser_worker)
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        before = dict(con.execute("select chunk_id, document_id from raw.chunks").fetchall())
    (root / "status.txt").write_text("Service status\n\nThe payments API is operational.\n")
    report, counts = _ingest(tmp_path, _spec(root), parser_worker, now=T1)
    assert (report.parsed, report.changed_documents, report.versions_written) == (1, 1, 1)
    assert counts["document_versions"] == 4 and counts["documents"] == 3
    status_id = ids.document_id("docs", "status.txt")
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        after = dict(con.execute("select chunk_id, document_id from raw.chunks").fetchall())
        versions = con.execute("select version_number from raw.document_versions "
                               "where document_id = ? order by 1", [status_id]).fetchall()
    kept = {c for c, d in before.items() if d != status_id}
    assert kept <= set(after)  # other documents' chunks untouched
    assert {c for c, d in after.items() if d == status_id}.isdisjoint(before)
    assert versions == [(1,), (2,)]


def test_deleted_file_is_marked_and_its_chunks_removed(tmp_path, parser_worker):
    root = _folder(tmp_path)
    _ingest(tmp_path, _spec(root), parser_worker)
    (root / "status.txt").unlink()
    report, _ = _ingest(tmp_path, _spec(root), parser_worker, now=T1)
    assert report.deleted_documents == 1
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        row = con.execute("select is_deleted, deleted_at, current_content_hash from raw.documents "
                          "where path = 'status.txt'").fetchone()
        left = con.execute("select count(*) from raw.chunks c join raw.documents d "
                           "using (document_id) where d.path = 'status.txt'").fetchone()[0]
    assert row == (True, T1, None) and left == 0


def test_a_file_that_turns_bad_keeps_its_last_good_version(tmp_path, parser_worker):
    root = _folder(tmp_path)
    _ingest(tmp_path, _spec(root), parser_worker)
    (root / "status.txt").write_bytes(b"\x00\x01binary now\x00")
    report, counts = _ingest(tmp_path, _spec(root), parser_worker, now=T1)
    assert report.failed == 1
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        failure = con.execute("select path, exception_class from raw.ingest_failures").fetchall()
        text = con.execute("select string_agg(text, ' ') from raw.chunks c join raw.documents d "
                           "using (document_id) where d.path = 'status.txt'").fetchone()[0]
    assert failure == [("status.txt", "BinaryContent")]
    assert "degraded" in text
    # The same bad bytes are not parsed again on the next run.
    again, counts2 = _ingest(tmp_path, _spec(root), parser_worker, now=T1)
    assert again.parsed == 0 and counts2 == counts


def test_git_source_reads_head_and_history(tmp_path, small_repo, parser_worker):
    (small_repo / "vendor").mkdir()
    (small_repo / "vendor" / "lib.py").write_text("x = 1\n")
    os.symlink("/etc/passwd", small_repo / "passwd.md")
    git(small_repo, "add", "--", ".")
    git(small_repo, "commit", "-qm", "vendor + link", date="2025-02-20T00:00:00+00:00")
    report, counts = _ingest(tmp_path, _spec(small_repo, "repo", "git"), parser_worker)
    assert report.new_documents == 2  # core.py and CHANGELOG.md
    assert report.skipped == 2  # vendored file, symlink
    assert counts["git_commits"] == 6 and report.commits_written == 6
    with connect(tmp_path / "wh.duckdb", read_only=True) as con:
        modified = dict(con.execute(
            "select d.path, v.modified_at from raw.documents d join raw.document_versions v "
            "on v.document_id = d.document_id").fetchall())
        changes = con.execute("select count(*) from raw.git_file_changes where path = "
                              "'CHANGELOG.md'").fetchone()[0]
        head = con.execute("select head_commit from raw.sources").fetchone()[0]
        authors = con.execute("select distinct author_hash from raw.git_commits").fetchall()
    assert modified["core.py"] == datetime(2025, 1, 6, 10, tzinfo=UTC)
    assert modified["CHANGELOG.md"] == datetime(2025, 2, 3, 10, tzinfo=UTC)
    assert changes == 5
    assert head == git(small_repo, "rev-parse", "HEAD")
    assert authors == [(ids.email_hash("author@corp.example"),)]
    again, counts2 = _ingest(tmp_path, _spec(small_repo, "repo", "git"), parser_worker, now=T1)
    assert counts2 == counts and again.commits_written == 0 and again.parsed == 0


def test_missing_folder_is_a_clear_error(tmp_path, parser_worker):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _ingest(tmp_path, _spec(tmp_path / "nope"), parser_worker)
