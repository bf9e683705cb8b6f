"""Fixtures for the evaluation tests: a fixture warehouse with qa.* and marts.document_routes and
a hand-written questions file. The model and index fixtures (`base_bundle`, `compiled_bundle`,
`index`, `acme`) are the answering tests' (tests/answering/fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from training.synthesis.store import SCHEMA


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """qa.pairs / qa.stale_facts (the synthesis schema) and a small marts.document_routes."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(SCHEMA)
    pairs = [
        # pair_id, tenant, fact_id, split, question, answer, superseded, superseded_by_answer
        ("p1", "acme", "f1", "eval", "Who owns Zarnik Pay?", "Lena Brook", False, None),
        ("p2", "acme", "f2", "eval", "Which port does Orvik use?", "8443", False, None),
        ("p3", "acme", "f3", "train", "Who owns Zarnik Pay, training?", "Lena Brook", False,
         None),
        ("p4", "acme", "f4", "volatile_eval", "When does the cafeteria open?", "08:00", False,
         None),
        ("p5", "other", "f5", "eval", "What is the travel budget?", "$1,800", False, None),
        ("p6", "acme", "f6", "train", "What does KX-19 mean?", "disk full", True,
         "disk quota exceeded"),
        ("p7", "acme", "f6", "eval", "What does KX-19 mean?", "disk full", True,
         "disk quota exceeded"),
        ("p8", "acme", "f7", "eval", "Who runs the relay?", "Tam Oskel", True, None),
        ("p9", "acme", "f8", "eval", "Old question, no new answer?", "x", True, None),
        ("p0", "acme", "f9", "eval", "An old eval question?", "gone", True, "new"),
    ]
    con.executemany(
        "insert into qa.pairs (pair_id, tenant, fact_id, chunk_id, document_id, split, question,"
        " answer, superseded, superseded_by_answer) values (?, ?, ?, 'c', 'd', ?, ?, ?, ?, ?)",
        pairs)
    con.execute("insert into qa.stale_facts (stale_id, tenant, document_id, old_fact_id, "
                "old_answer, new_answer) values ('s1', 'acme', 'd', 'f7', 'Tam Oskel', "
                "'Ada Vance')")
    con.execute("create schema marts")
    con.execute("create table marts.document_routes (document_id varchar, source_id varchar, "
                "tenant varchar, path varchar, route varchar, reason varchar)")
    con.executemany("insert into marts.document_routes values (?, ?, ?, ?, ?, 'r')", [
        ("d-hb", "eng-docs", "acme", "handbook/handbook.docx", "static"),
        ("d-st", "eng-docs", "acme", "status.md", "volatile"),
        ("d-api", "platform-api", "acme", "src/app.py", "overflow"),
    ])
    return con


QUESTIONS_YAML = """
- id: q1
  question: "Who keeps the handbook?"
  answer: "Rebecca Osei"
  source: documents/engineering/handbook/handbook.docx
  tenant: acme
  stability: static
- id: q2
  question: "What is the status?"
  answer: "green"
  aliases: ["all green"]
  source: documents/engineering/status.md
  tenant: acme
  stability: static
- id: q3
  question: "Which framework does the API use?"
  answer: "FastAPI"
  source: repos/platform-api/src/app.py
  tenant: acme
  stability: static
- id: q4
  question: "Not ingested?"
  answer: "nothing"
  source: documents/engineering/missing.md
  tenant: acme
  stability: volatile
- id: q5
  question: "Another tenant?"
  answer: "x"
  source: documents/finance/a.md
  tenant: other
  stability: static
"""
SOURCE_ROOTS = {"eng-docs": "documents/engineering", "platform-api": "repos/platform-api",
                "fin-docs": "documents/finance"}


@pytest.fixture
def questions_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(QUESTIONS_YAML)
    return path
