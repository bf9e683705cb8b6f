"""Loading the question sets from a fixture warehouse and questions file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from evaluation.question_sets import LoadReport, load_question_sets, sample, split_source
from tests.evaluation.conftest import SOURCE_ROOTS


def test_sets_synthetic_volatile_and_stale(warehouse: duckdb.DuckDBPyConnection) -> None:
    sets = load_question_sets(warehouse, sets=("heldout_synthetic", "volatile", "stale"))
    assert [q.qid for q in sets["heldout_synthetic"]] == ["p1", "p2", "p5"]
    assert [q.qid for q in sets["volatile"]] == ["p4"]
    stale = {q.qid: q for q in sets["stale"]}
    # p6/p7 share fact and question: the eval pair is kept; p8 takes the new answer from
    # qa.stale_facts; p9 has no new answer anywhere and is dropped.
    assert sorted(stale) == ["p0", "p7", "p8"]
    assert stale["p7"].answers == ("disk quota exceeded",)
    assert stale["p7"].old_answers == ("disk full",)
    assert stale["p8"].answers == ("Ada Vance",) and stale["p8"].old_answers == ("Tam Oskel",)
    only = load_question_sets(warehouse, sets=("heldout_synthetic",), tenants=["other"])
    assert [q.qid for q in only["heldout_synthetic"]] == ["p5"]
    trained = load_question_sets(warehouse, sets=("heldout_synthetic",),
                                 trained_facts={"f2", "f5"})
    assert [q.qid for q in trained["heldout_synthetic"]] == ["p2", "p5"]


def test_sets_handwritten_split_by_route(warehouse: duckdb.DuckDBPyConnection,
                                         questions_file: Path) -> None:
    report = LoadReport()
    sets = load_question_sets(warehouse, questions_file, SOURCE_ROOTS,
                              sets=("handwritten_static", "handwritten_volatile"),
                              tenants=["acme"], report=report)
    assert [q.qid for q in sets["handwritten_static"]] == ["q1"]
    assert [q.qid for q in sets["handwritten_volatile"]] == ["q2", "q3", "q4"]
    q2 = sets["handwritten_volatile"][0]
    assert q2.answers == ("green", "all green")
    assert (q2.source_id, q2.path, q2.route, q2.document_id) == (
        "eng-docs", "status.md", "volatile", "d-st")
    assert sets["handwritten_volatile"][1].route == "overflow"
    assert report.unrouted == ["q4"]  # falls back to its stability: volatile
    assert report.available == {"handwritten_static": 1, "handwritten_volatile": 3}


def test_sets_sampling_is_seeded_and_errors_are_clear(
        warehouse: duckdb.DuckDBPyConnection, questions_file: Path) -> None:
    all_sets = load_question_sets(warehouse, questions_file, SOURCE_ROOTS)
    assert list(all_sets) == ["heldout_synthetic", "volatile", "stale", "handwritten_static",
                              "handwritten_volatile"]
    limited = load_question_sets(warehouse, questions_file, SOURCE_ROOTS, limit=2, seed=3)
    again = load_question_sets(warehouse, questions_file, SOURCE_ROOTS, limit=2, seed=3)
    assert [len(v) for v in limited.values()] == [2, 1, 2, 2, 2]
    assert limited == again
    assert sample(list(range(10)), 3, seed=0) == sample(list(range(10)), 3, seed=0)
    assert len(set(sample(list(range(10)), 3, seed=0))) == 3
    assert split_source("documents/engineering/a/b.md", SOURCE_ROOTS) == ("eng-docs", "a/b.md")
    assert split_source("elsewhere/b.md", SOURCE_ROOTS) is None
    with pytest.raises(ValueError, match="source_roots"):
        load_question_sets(warehouse, questions_file, None)
    with pytest.raises(ValueError, match="unknown question sets"):
        load_question_sets(warehouse, sets=("nope",))
    empty = duckdb.connect()
    with pytest.raises(LookupError, match="synthesis"):
        load_question_sets(empty, sets=("heldout_synthetic",))
