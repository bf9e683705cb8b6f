"""The hostile-file corpus: every bad file is quarantined with a reason, good ones ingested."""

import pytest

from examples.bad_inputs import make_bad_corpus
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.parsing import ParserWorker
from ingestion.pipeline import ingest_source
from ingestion.sources import display_path
from ingestion.warehouse import connect

EXPECTED_CLASS = {
    "empty": "EmptyFile",
    "truncated_pdf": "NoTextExtracted",
    "encrypted_pdf": "NoTextExtracted",
    "image_only_pdf": "NoTextExtracted",
    "binary_md": "BinaryContent",
    "nul_after_8k": "BinaryContent",
    "docx_zip_bomb": "UnsafeArchive",
    "docx_entity_bomb": "UnsafeArchive",
    "huge_single_line": "FileTooLarge",
    "symlink_outside": "UnsafePath",
    "symlink_loop": "UnsafePath",
    "pdf_xref_loop": "MalformedDocument",
    "docx_zip_slip": "UnsafeArchive",
    "ipynb_huge_output": "FileTooLarge",
    "ipynb_not_json": "MalformedDocument",
    "sparse_2gb": "FileTooLarge",
    "deep_dir_500": "UnsafePath",
}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad") / "corpus"
    files = make_bad_corpus(root)
    home = root.parent
    spec = SourceSpec(name="bad", type="documents", tenant="t", acl_groups=("g",), path=root)
    cfg = IngestionConfig(max_file_mb=20, parse_timeout_s=30)
    with ParserWorker(30, 2048) as worker, connect(home / "wh.duckdb") as con:
        report = ingest_source(con, spec, cfg, home=home, worker=worker)
        report.worker_pid = worker._proc.pid
        failures = {r[0]: r[1:] for r in con.execute(
            "select path, exception_class, reason from raw.ingest_failures").fetchall()}
        texts = {r[0]: r[1] for r in con.execute(
            "select d.path, string_agg(c.text, ' ') from raw.documents d "
            "join raw.chunks c using (document_id) group by 1").fetchall()}
    return files, report, failures, texts


def test_every_bad_file_is_quarantined_with_its_reason(bad_run):
    files, _report, failures, _ = bad_run
    for f in files:
        if f.expect != "quarantine" or f.kind == "unreadable":
            continue
        path = display_path(f.relpath)
        assert path in failures, f"{f.kind} ({path!r}) was not quarantined"
        assert failures[path][0] == EXPECTED_CLASS[f.kind], (f.kind, failures[path])
        assert failures[path][1]  # a human-readable reason


def test_at_least_eighteen_kinds_are_quarantined_none_crash_none_hang(bad_run):
    files, report, failures, _ = bad_run
    quarantined = {f.kind for f in files if f.expect == "quarantine"}
    assert len(quarantined) >= 18
    assert report.failed == len(failures) >= len(quarantined)
    assert report.seconds < 120  # the bombs, the sparse file and the loop are refused, not read
    reasons = {f.kind: failures[display_path(f.relpath)][1] for f in files
               if f.expect == "quarantine" and f.kind != "unreadable"}
    assert "loops" in reasons["pdf_xref_loop"]
    assert "zip slip" in reasons["docx_zip_slip"]
    assert "2048.0 MiB" in reasons["sparse_2gb"]
    assert "deeper than 64 levels" in reasons["deep_dir_500"]


def test_valid_files_with_awkward_encodings_or_names_are_ingested(bad_run):
    files, _, failures, texts = bad_run
    for f in files:
        if f.expect != "ingest":
            continue
        path = display_path(f.relpath)
        assert path not in failures, (f.kind, failures.get(path))
        assert f.expected_text in texts[path], f.kind


def test_non_utf8_name_is_stored_escaped(bad_run):
    _, _, _, texts = bad_run
    assert "caf\\xe9.md" in texts
    assert "line\nbreak.md" in texts and "-rf.md" in texts


def test_unreadable_file_is_quarantined(tmp_path, monkeypatch):
    """Root reads chmod-000 files, so the permission error is injected at the read."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "secret.md").write_text("# Secret\n\ntext\n")
    from ingestion import sources

    def deny(full, limit):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sources, "_read_file", deny)
    spec = SourceSpec(name="u", type="documents", tenant="t", acl_groups=("g",), path=root)
    with connect(tmp_path / "wh.duckdb") as con:
        report = ingest_source(con, spec, IngestionConfig(), home=tmp_path,
                               worker=ParserWorker(5, 512, selfcheck=False))
        rows = con.execute("select path, exception_class from raw.ingest_failures").fetchall()
    assert report.failed == 1 and rows == [("secret.md", "PermissionError")]


def test_parser_timeout_kills_the_worker_and_the_run_goes_on(monkeypatch):
    worker = ParserWorker(timeout_s=0.5, memory_mb=512, selfcheck=False)
    worker.start_timeout_s = 0.0  # make the first request count from the start

    from ingestion import errors

    with worker, pytest.raises(errors.ParseTimeout):
        worker.partition("md", "# never answered in time")
    assert worker._proc is None  # killed; the next request starts a fresh one


def test_no_parser_process_left_behind(bad_run):
    _, report, _, _ = bad_run
    import psutil

    assert not psutil.pid_exists(report.worker_pid) or psutil.Process(
        report.worker_pid).status() == psutil.STATUS_ZOMBIE
