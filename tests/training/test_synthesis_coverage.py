"""Coverage of hand-written questions by extracted facts, per tenant."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from tests.training import synthesis_fixtures as fx
from training.synthesis import coverage_against_questions

QUESTIONS = [
    {"id": "q1", "question": "How long is parental leave?", "answer": "16 weeks",
     "source": "documents/acme/handbook/handbook.md", "tenant": "acme", "stability": "static"},
    {"id": "q2", "question": "Who owns the handbook?", "answer": "R. Osei",
     "aliases": ["Rebecca Osei"], "source": "documents/acme/handbook/handbook.md",
     "tenant": "acme", "stability": "static"},
    {"id": "q3", "question": "What is the dress code?", "answer": "smart casual",
     "source": "documents/acme/handbook/handbook.md", "tenant": "acme", "stability": "static"},
    {"id": "q4", "question": "What is the payment success rate?", "answer": "98.8%",
     "source": "documents/acme/STATUS.md", "tenant": "acme", "stability": "volatile"},
    {"id": "q5", "question": "Which port does the bastion use?", "answer": "2222",
     "source": "documents/globex/runbooks/bastion.txt", "tenant": "globex",
     "stability": "static"},
]


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(yaml.safe_dump(QUESTIONS))
    return path


def add_sources(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table raw.sources as select * from (values "
                "('src-acme', '/corpus/documents/acme', 'acme', ['acme']), "
                "('src-globex', '/corpus/documents/globex', 'globex', ['globex'])) "
                "t(source_id, uri, tenant, acl_groups)")


def test_coverage_per_tenant_and_stability(tmp_path, questions) -> None:
    con = fx.make_warehouse(str(tmp_path / "w.duckdb"))
    add_sources(con)
    report = coverage_against_questions(con, questions)
    assert report.per_tenant == {
        "acme": {"covered": 3, "total": 4, "share": 0.75},
        "globex": {"covered": 1, "total": 1, "share": 1.0}}
    assert report.per_stability["volatile"] == {"covered": 1, "total": 1, "share": 1.0}
    assert [m["id"] for m in report.missed] == ["q3"]
    assert report.unmatched_sources == []
    with_prefix = coverage_against_questions(con, questions, corpus_root_prefix="/corpus")
    assert with_prefix.per_tenant == report.per_tenant
    wrong_prefix = coverage_against_questions(con, questions, corpus_root_prefix="/elsewhere")
    assert wrong_prefix.share("acme") == 0.0 and len(wrong_prefix.unmatched_sources) == 5


def test_coverage_reads_raw_tables_without_marts(tmp_path, questions) -> None:
    con = fx.make_warehouse(str(tmp_path / "w.duckdb"))
    add_sources(con)
    con.execute("create table raw.documents as select distinct document_id, "
                "'src-' || tenant as source_id, path, '' as title, null::varchar as "
                "current_content_hash, false as is_deleted from marts.chunks_for_index")
    con.execute("update raw.documents d set current_content_hash = c.content_hash "
                "from raw.chunks c where c.document_id = d.document_id")
    con.execute("drop schema marts cascade")
    report = coverage_against_questions(con, questions)
    assert report.per_tenant["acme"] == {"covered": 3, "total": 4, "share": 0.75}


def test_bad_questions_file_is_named(tmp_path) -> None:
    con = fx.make_warehouse(str(tmp_path / "w.duckdb"))
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml does not exist"):
        coverage_against_questions(con, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: a mapping\n")
    with pytest.raises(ValueError, match="expected a list of questions"):
        coverage_against_questions(con, bad)
