"""The learning curve's budget: whole facts in budget order, until the synthetic tokens reach it;
rewrites beside the same facts; model-written questions only for the `natural` method."""

from __future__ import annotations

import duckdb

from evaluation.learning_curve import budget_rows, measured_curve, projection, scores


class WordTokenizer:
    """One token per word: budgets become easy to count by hand."""

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": text.split()}


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("create schema qa")
    con.execute("create table qa.pairs (pair_id varchar, fact_id varchar, tenant varchar, "
                "split varchar, question varchar, answer varchar, superseded boolean, "
                "chunk_id varchar, family varchar)")
    con.execute("create table qa.notes (note_id varchar, fact_id varchar, tenant varchar, "
                "text varchar)")
    rows = []
    for f in range(6):
        rows += [(f"p{f}a", f"f{f}", "t", "train", "what is the port", "8443", False, "c", "tpl"),
                 (f"p{f}b", f"f{f}", "t", "train", "which port then", "8443", False, "c", "tpl"),
                 (f"p{f}c", f"f{f}", "t", "train", "where do I connect", "8443", False, "c",
                  "natural_howto")]
    con.executemany("insert into qa.pairs values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.executemany("insert into qa.notes values (?, ?, 't', ?)",
                    [(f"n{f}", f"f{f}", "the port is 8443") for f in range(6)])
    return con


def test_budget_takes_whole_facts_until_the_synthetic_tokens_reach_it() -> None:
    con, tok = _warehouse(), WordTokenizer()
    pairs, notes, used = budget_rows(con, "t", "template", 20, tok)
    assert (len(pairs), notes, used) == (4, [], 18)  # 2 facts x (5 + 4 words); a 3rd: 27
    assert len({p["fact_id"] for p in pairs}) == 2
    natural, _, _ = budget_rows(con, "t", "natural", 20, tok, max_per_fact=2)
    assert [p["question"] for p in natural][:1] == ["where do I connect"]
    with_notes, notes, used = budget_rows(con, "t", "rewrites", 20, tok)
    assert len(notes) == 1 and len(with_notes) == 2 and used == 13  # 1 fact: 9 + 4 words
    assert budget_rows(con, "t", "template", 1, tok)[0]  # one fact even past a tiny budget


def test_no_curve_before_it_is_measured(tmp_path) -> None:
    assert measured_curve(tmp_path, "finance") == []


def test_past_full_coverage_the_budget_buys_more_phrasings_of_every_fact() -> None:
    con, tok = _warehouse(), WordTokenizer()
    pairs, _, used = budget_rows(con, "t", "natural", 200, tok, max_per_fact=2)
    per_fact = [sum(p["fact_id"] == f"f{f}" for p in pairs) for f in range(6)]
    assert per_fact == [3] * 6 and used == 6 * (5 + 5 + 4)  # round 2: each fact's 3rd phrasing
    first_round = budget_rows(con, "t", "natural", 6 * 10, tok, max_per_fact=2)[0]
    assert len(first_round) == 12 and all(p["question"] != "which port then"
                                          for p in first_round)


def test_scores_split_the_questions_about_trained_facts_from_the_rest() -> None:
    from evaluation.question_sets import Question

    qs = [Question(qid=str(i), question=f"q{i}", answers=(a,), tenant="t",
                   qset="handwritten_static")
          for i, a in enumerate(["8443", "16 weeks", "Net 45", "AF-02"])]
    got = scores(qs, ["8443", "The answer is 16 weeks.", "Net 30", "AF-02"], ["8443", "net 30"])
    assert (got["handwritten_static"], got["handwritten_static_contained"]) == (0.5, 0.75)
    assert (got["trained_questions"], got["trained_static"]) == (1, 1.0)
    assert scores(qs, ["-"] * 4)["trained_static"] == 0.0  # no trained facts: no division


def _row(method: str, ratio: float, em: float, wall: float = 100.0) -> dict:
    return {"method": method, "tokens_per_source_token": ratio, "handwritten_static": em,
            "wall_s": wall}


def test_projection_fits_log_linear_growth_and_says_where_it_reaches_the_target() -> None:
    refs = [{"method": "base", "reference": True, "handwritten_static": 0.0},
            {"method": "rag", "reference": True, "handwritten_static": 0.5}]
    rows = [*refs, _row("rewrites", 0.3, 0.0), _row("rewrites", 1, 0.1, 100),
            _row("rewrites", 10, 0.2, 1000), _row("flat", 1, 0.1), _row("flat", 10, 0.1),
            _row("single", 1, 0.2)]
    fits = {f["method"]: f for f in projection(rows)}
    # +0.1 a decade from 0.1 at 1x: the target 0.4 (0.8 of rag's 0.5) at 10^3 = 1,000x.
    assert fits["rewrites"]["slope_per_decade"] == 0.1 and fits["rewrites"]["target"] == 0.4
    assert fits["rewrites"]["ratio_needed"] == 1000.0
    assert fits["rewrites"]["wall_s_needed"] == 100_000  # 1,000 s at 10x, scaled by tokens
    assert fits["flat"]["ratio_needed"] is None and fits["flat"]["slope_per_decade"] == 0.0
    assert fits["single"]["slope_per_decade"] is None
    assert projection(rows[2:]) == []  # no references measured: nothing to aim at


def test_saving_merges_with_what_another_curve_wrote_meanwhile(tmp_path) -> None:
    from evaluation.learning_curve import _save

    out = tmp_path / "learning_curve" / "finance.json"
    _save(out, [_row("template", 1, 0.1) | {"ratio_asked": 1.0}])
    _save(out, [_row("rewrites", 10, 0.3) | {"ratio_asked": 10.0}])  # the other process
    _save(out, [{"method": "rag", "reference": True, "handwritten_static": 0.2}])
    rows = _save(out, [{"method": "rag", "reference": True, "handwritten_static": 0.4}],
                 replace_references=True)
    assert [(r["method"], r["handwritten_static"]) for r in rows] == [
        ("template", 0.1), ("rewrites", 0.3), ("rag", 0.4)]
    assert measured_curve(tmp_path, "finance") == rows
