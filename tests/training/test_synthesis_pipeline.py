"""synthesize_tenant end to end on a small warehouse: splits, caching, stale facts, exports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from tests.training import synthesis_fixtures as fx
from training.synthesis import (
    Chunk,
    ChunkSynthesis,
    OfflineGenerator,
    SynthesisConfig,
    SynthesisReport,
    check_drop_rate,
    synthesize_tenant,
)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = fx.make_warehouse(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def test_splits_are_disjoint_and_volatile_eval_comes_only_from_volatile_chunks(con, tmp_path):
    calls: list[tuple[int, int]] = []
    report = synthesize_tenant(con, "acme", tmp_path / "out",
                               progress=lambda done, total, _cid: calls.append((done, total)))
    assert (report.chunks, report.volatile_chunks) == (4, 1)
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert report.pairs_by_split["train"] > 0 and report.pairs_by_split["eval"] > 0
    assert report.pairs_by_split["volatile_eval"] > 0
    shared = rows(con, "select count(*) from qa.pairs t join qa.pairs e on "
                       "lower(t.question) = lower(e.question) where t.split = 'train' and "
                       "e.split in ('eval', 'volatile_eval') and t.tenant = 'acme'")
    assert shared == [(0,)]
    volatile_chunks = {r[0] for r in rows(con, "select chunk_id from marts.chunks_for_index "
                                               "where route = 'volatile'")}
    assert {r[0] for r in rows(con, "select chunk_id from qa.pairs where split = "
                                    "'volatile_eval'")} == volatile_chunks
    assert rows(con, "select count(*) from qa.pairs where split = 'train' and chunk_id in "
                     "(select unnest(?::varchar[]))", sorted(volatile_chunks)) == [(0,)]
    eval_families = {r[0] for r in rows(con, "select distinct family from qa.pairs "
                                             "where split != 'train'")}
    assert all(".ho." in family for family in eval_families)
    assert rows(con, "select distinct tenant from qa.pairs") == [("acme",)]
    versions = rows(con, "select distinct version_number, content_hash is not null "
                         "from qa.pairs")
    assert versions == [(1, True)]
    assert check_drop_rate(report, 0.5)[0]


def test_second_run_uses_the_cache_and_exports_the_same_bytes(con, tmp_path):
    first = synthesize_tenant(con, "acme", tmp_path / "out")
    files = {name: Path(path).read_bytes() for name, path in first.dataset_paths.items()}
    second = synthesize_tenant(con, "acme", tmp_path / "out")
    assert (first.cache_hits, first.chunks_synthesized) == (0, 5)
    assert (second.cache_hits, second.chunks_synthesized) == (5, 0)
    assert second.dataset_sha256 == first.dataset_sha256
    assert {n: Path(p).read_bytes() for n, p in second.dataset_paths.items()} == files
    assert sorted(first.dataset_paths) == sorted(
        f"{split}.{ext}" for split in ("train", "eval", "volatile_eval", "notes", "regression")
        for ext in ("jsonl", "parquet"))
    train = [json.loads(line) for line in files["train.jsonl"].decode().splitlines()]
    assert len(train) == second.pairs_by_split["train"]
    assert {"question", "answer", "chunk_id", "document_id", "content_hash",
            "version_number"} <= set(train[0])
    statuses = rows(con, "select status, count(*) from qa.runs group by 1")
    assert statuses == [("succeeded", 2)]


def test_only_changed_chunks_are_synthesized_again(con, tmp_path):
    synthesize_tenant(con, "acme", tmp_path / "out")
    docs = fx.default_docs()
    docs[2] = replace(docs[2], chunks=(("Price List > Subscriptions",
                                        fx.PRICE_LIST.replace("$1,450", "$1,525")),), version=2)
    fx.load_docs(con, docs)
    report = synthesize_tenant(con, "acme", tmp_path / "out")
    assert (report.chunks_synthesized, report.cache_hits) == (1, 4)


def test_a_changed_fact_is_superseded_and_kept_as_regression(con, tmp_path):
    synthesize_tenant(con, "acme", tmp_path / "out")
    old_pairs = rows(con, "select count(*) from qa.pairs where answer = '$1,450'")[0][0]
    docs = fx.default_docs()
    docs[2] = replace(docs[2], chunks=(("Price List > Subscriptions",
                                        fx.PRICE_LIST.replace("$1,450", "$1,525")),), version=2)
    fx.load_docs(con, docs)
    report = synthesize_tenant(con, "acme", tmp_path / "out")
    assert report.stale_facts == 1
    assert report.superseded_pairs == old_pairs > 0
    stale = rows(con, "select subject, relation, old_answer, new_answer, old_version_number, "
                      "new_version_number from qa.stale_facts")
    assert stale == [("Fleet Pro (NW-FLT-200)", "List price", "$1,450", "$1,525", 1, 2)]
    assert rows(con, "select distinct split, superseded_by_answer from qa.pairs "
                     "where superseded order by 1") == [("eval", "$1,525"), ("train", "$1,525")]
    assert rows(con, "select count(*) from qa.pairs where answer = '$1,525' and "
                     "not superseded")[0][0] > 0
    regression = Path(report.dataset_paths["regression.jsonl"]).read_text().splitlines()
    assert len(regression) == old_pairs
    assert {(json.loads(r)["old_answer"], json.loads(r)["new_answer"]) for r in regression} == {
        ("$1,450", "$1,525")}
    train = Path(report.dataset_paths["train.jsonl"]).read_text()
    assert "$1,450" not in train and "$1,525" in train
    again = synthesize_tenant(con, "acme", tmp_path / "out")  # same input: nothing new
    assert (again.stale_facts, again.superseded_pairs) == (0, 0)
    assert again.dataset_sha256 == report.dataset_sha256
    assert rows(con, "select count(*) from qa.stale_facts") == [(1,)]


def test_a_fact_changed_in_a_document_now_routed_volatile_is_superseded(con, tmp_path):
    synthesize_tenant(con, "acme", tmp_path / "out")
    docs = fx.default_docs()
    docs[2] = replace(docs[2], route="volatile", version=2, chunks=(
        ("Price List > Subscriptions", fx.PRICE_LIST.replace("$1,450", "$1,525")),))
    fx.load_docs(con, docs)
    report = synthesize_tenant(con, "acme", tmp_path / "out")
    assert (report.chunks, report.volatile_chunks, report.stale_facts) == (3, 2, 1)
    assert rows(con, "select old_answer, new_answer from qa.stale_facts") == [
        ("$1,450", "$1,525")]
    assert rows(con, "select count(*) from qa.pairs where split = 'volatile_eval' and "
                     "answer = '$1,525'")[0][0] > 0
    assert rows(con, "select superseded, count(*) from qa.pairs where split = 'train' and "
                     "path = 'pricing/price-list.html' group by 1") == [(True, 6)]


def test_quota_is_per_chunk(con, tmp_path):
    config = SynthesisConfig(max_pairs_per_chunk=20, max_drop_share=0.9)
    report = synthesize_tenant(con, "acme", tmp_path / "out", config=config)
    assert report.dropped["chunk_quota"] > 0
    assert max(report.pairs_per_chunk.values()) <= 20
    assert len(report.pairs_per_chunk) == 4  # every static chunk keeps pairs


class UnsupportedAnswers(OfflineGenerator):
    """Answers that the chunk does not hold: the support filter must drop them all."""

    generator_id = "broken"

    def generate(self, chunk: Chunk) -> ChunkSynthesis:
        result = super().generate(chunk)
        result.facts = [replace(f, answer="zzz qqq") for f in result.facts]
        return result


def test_drop_rate_check_fails_when_filters_empty_the_dataset(con, tmp_path):
    report = synthesize_tenant(con, "acme", tmp_path / "out", generator=UnsupportedAnswers())
    assert report.pairs_by_split["train"] == 0
    assert report.dropped["unsupported_answer"] == report.candidates > 0
    passed, details = check_drop_rate(report, 0.5)
    assert not passed
    assert "4 static chunks gave 0 training pairs" in details["message"]
    assert any("drop-rate check failed" in w for w in report.warnings)


def test_drop_rate_check_both_ways_on_counts():
    ok = SynthesisReport("acme", chunks=3, candidates=100, dropped={"chunk_quota": 30},
                         pairs_by_split={"train": 50})
    assert check_drop_rate(ok, 0.3) == (True, check_drop_rate(ok, 0.3)[1])
    assert check_drop_rate(ok, 0.29)[0] is False
    assert "most by 'chunk_quota'" in check_drop_rate(ok, 0.29)[1]["message"]
    empty_input = SynthesisReport("acme")
    assert check_drop_rate(empty_input, 0.5)[0] is True
    with pytest.raises(ValueError, match="max_drop_share"):
        check_drop_rate(ok, 2.0)


class Crashing(OfflineGenerator):
    generator_id = "crashing"

    def generate(self, chunk: Chunk) -> ChunkSynthesis:
        raise RuntimeError("disk full")


def test_runs_are_marked_failed_and_stuck_runs_abandoned(con, tmp_path):
    with pytest.raises(RuntimeError, match="disk full"):
        synthesize_tenant(con, "acme", tmp_path / "out", generator=Crashing())
    assert rows(con, "select status, error from qa.runs") == [("failed",
                                                               "RuntimeError: disk full")]
    assert rows(con, "select count(*) from qa.pairs") == [(0,)]
    con.execute("insert into qa.runs (run_id, tenant, status) values ('r0', 'acme', 'running')")
    report = synthesize_tenant(con, "acme", tmp_path / "out")
    assert report.abandoned_runs == 1
    assert rows(con, "select status from qa.runs where run_id = 'r0'") == [("abandoned",)]


def test_marts_without_raw_tables_still_work(con, tmp_path):
    con.execute("drop schema raw cascade")
    report = synthesize_tenant(con, "acme", tmp_path / "out")
    assert report.pairs_by_split["train"] > 0
    assert rows(con, "select distinct content_hash, version_number from qa.pairs") == [
        ("", None)]


def test_missing_marts_give_a_clear_error(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(LookupError, match="run ingestion and `dbt build`"):
        synthesize_tenant(con, "acme", tmp_path / "out")
