"""benchmarks/RESULTS.md: one summary row per benchmark, with peer, figures, ratio, goal."""

from benchmarks.common import COLUMNS, result_row
from benchmarks.run import BENCHMARKS, memory_rows, render


def _sample(name: str) -> dict:
    row = result_row(f"{name} figure", f"{name} peer", 2.0, 4.0, "s", 0.5, "<= 1", True,
                     extra_detail=7)
    return {"benchmark": name, "measured_at": "2026-01-01T00:00:00+00:00", "notes": "n",
            "rows": [row]}


def _summary_rows(markdown: str) -> list[list[str]]:
    table = markdown.split("## Summary\n\n", 1)[1].split("\n\n", 1)[0]
    lines = table.strip().splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_every_required_benchmark_has_a_summary_row_with_the_standard_columns():
    results = {name: _sample(name) for name, _, _ in BENCHMARKS}
    memory = memory_rows({"index_search": 1536.0, "answer_latency": 9000.0}, 24_000.0)
    markdown = render(results, memory, minutes=12.5, cores=2)
    rows = _summary_rows(markdown)
    names = [r[0] for r in rows]
    assert names == [f"{name} figure" for name, _, _ in BENCHMARKS] + [
        "peak memory: index_search", "peak memory: answer_latency"]
    first = dict(zip(COLUMNS, rows[0], strict=True))
    assert first == {"benchmark": "ingestion_vs_parser figure", "peer": "ingestion_vs_parser peer",
                     "ours": "2", "theirs": "4", "unit": "s", "ratio": "0.5", "goal": "<= 1",
                     "passed": "True"}
    # 1536 of 24000 MiB is within a quarter of the machine; 9000 is not.
    assert [r[-1] for r in rows[-2:]] == ["True", "False"]
    assert "in 12.5 min on 2 shared CPU cores" in markdown
    assert f"{len(BENCHMARKS) + 1} of {len(BENCHMARKS) + 2} goals met" in markdown
    assert "extra_detail" in markdown.split("## Details", 1)[1]


def test_a_failed_benchmark_shows_as_not_measured_and_failing():
    results = {name: _sample(name) for name, _, _ in BENCHMARKS}
    results["index_search"] = None
    markdown = render(results, [], minutes=1.0, cores=2)
    rows = {r[0]: r for r in _summary_rows(markdown)}
    assert rows["index_search"][-1] == "False"
    assert "not measured: index_search" in markdown
    assert "### index_search" not in markdown


def test_goal_less_rows_are_not_counted_as_goals():
    results = {name: _sample(name) for name, _, _ in BENCHMARKS}
    results["incremental_refresh"]["rows"].append(
        result_row("fixed cost", "full", 1.0, 2.0, "s", 0.5, "none", None))
    markdown = render(results, [], minutes=1.0, cores=2)
    assert f"{len(BENCHMARKS)} of {len(BENCHMARKS)} goals met" in markdown


def test_previous_base_rows_sit_under_the_new_figure_and_count_toward_no_goal():
    results = {name: _sample(name) for name, _, _ in BENCHMARKS}
    results["answer_latency"]["rows"] = [
        result_row("latency", "~1k prompt", 1.0, 2.0, "ms", 2.0, "> 1", True),
        result_row("latency", "largest prompt", 1.0, 9.0, "ms", 9.0, ">= 5", True)]
    memory = memory_rows({"answer_latency": 900.0}, 24_000.0)
    previous = {"label": "old base (previous base)", "notes": "Older figures.", "rows": [
        result_row("latency (median)", "rag", 1.0, 2.5, "ms", 2.5, "> 1", True,
                   module="answer_latency", follows=["latency", "~1k prompt"]),
        result_row("latency (median)", "full", 1.0, 2.9, "ms", 2.9, ">= 5", False,
                   module="answer_latency", follows=["latency", "largest prompt"]),
        result_row("peak memory: answer_latency", "machine", 1100, 24_000, "MiB", 0.05,
                   "<= 0.25", True, module="peak_memory",
                   follows=["peak memory: answer_latency", None])]}
    markdown = render(results, memory, minutes=1.0, cores=2, previous=previous)
    names = [(r[0], r[1], r[-2], r[-1]) for r in _summary_rows(markdown)]
    at = names.index(("latency", "~1k prompt", "> 1", "True"))
    assert names[at:at + 4] == [
        ("latency", "~1k prompt", "> 1", "True"),
        ("latency (median) — old base (previous base)", "rag", "> 1 (then: met)", ""),
        ("latency", "largest prompt", ">= 5", "True"),
        ("latency (median) — old base (previous base)", "full", ">= 5 (then: missed)", "")]
    assert names[-1][0] == "peak memory: answer_latency — old base (previous base)"
    # Only the new rows are goals: every benchmark's sample, two latency rows, one memory row.
    assert f"{len(BENCHMARKS) + 2} of {len(BENCHMARKS) + 2} goals met" in markdown
    assert 'Rows marked "old base (previous base)": Older figures.' in markdown
    details = markdown.split("### answer_latency", 1)[1].split("###", 1)[0]
    assert "latency (median) — old base (previous base)" in details
    assert "follows" not in details and "module" not in details
