"""`kc` usage errors: one line, exit status 2, before any model or index loads; `--help` that
explains the arms; `kc routes --tenant` filtering every table."""

import subprocess
import sys
import time

import duckdb
import pytest

from knowledge_compiler import cli
from knowledge_compiler.cli import MAX_K, MAX_QUERY_CHARS, main


def usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize(("argv", "message"), [
    (["search", "", "--user", "alice"], "kc search: error: argument query: the query is empty"),
    (["search", "   ", "--user", "alice"], "kc search: error: argument query: the query is empty"),
    (["ask", "", "--user", "alice"], "kc ask: error: argument question: the query is empty"),
    (["ask", "x" * (MAX_QUERY_CHARS + 1), "--user", "alice"],
     f"kc ask: error: argument question: the query is {MAX_QUERY_CHARS + 1:,} characters; "
     f"at most {MAX_QUERY_CHARS:,} are accepted"),
    (["search", "q", "--user", "alice", "-k", "0"],
     f"kc search: error: argument -k: must be between 1 and {MAX_K}, not 0"),
    (["search", "q", "--user", "alice", "-k", "-3"],
     f"kc search: error: argument -k: must be between 1 and {MAX_K}, not -3"),
    (["search", "q", "--user", "alice", "-k", "five"],
     "kc search: error: argument -k: expected a whole number, not 'five'"),
    (["ask", "q", "--user", "alice", "--max-new-tokens", "0"],
     "kc ask: error: argument --max-new-tokens: must be at least 1, not 0"),
    (["ask", "q", "--user", "alice", "--arm", "closed"],
     "kc ask: error: argument --arm: invalid choice: 'closed' (choose from 'hybrid', "
     "'compiled', 'rag', 'full_context', 'base')"),
])
def test_usage_errors_are_one_line(capsys, argv, message):
    assert usage_error(capsys, argv) == f"{message} (see `{' '.join(['kc', argv[0]])} --help`)"


def test_a_query_at_the_limit_is_accepted():
    args = cli.build_parser().parse_args(["ask", "x" * MAX_QUERY_CHARS, "--user", "alice"])
    assert len(args.question) == MAX_QUERY_CHARS and args.verbose is False
    assert cli.build_parser().parse_args(["search", "q", "--user", "a", "-k", "1"]).k == 1


def test_an_empty_query_fails_fast_and_without_a_traceback(tmp_path):
    """In a fresh process, as a user runs it: no model, index or config is touched."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "knowledge_compiler.cli", "--config",
                           str(tmp_path / "missing.yaml"), "search", "", "--user", "alice"],
                          capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.startswith("kc search: error: argument query: the query is empty")
    assert elapsed < 15  # ~1 s alone; the model load it used to reach took 7 s more


def test_ask_help_explains_each_arm_and_names_the_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "default: hybrid" in text and "(default) the adapter" in text
    for arm in ("hybrid", "compiled", "rag", "full_context", "base"):
        assert f"\n  {arm} " in text, arm
    assert "kc serve" in text and "--verbose" in text


def test_quiet_by_default_verbose_on_request(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "quiet_libraries", lambda: calls.append("quiet"))
    monkeypatch.setattr(cli, "cmd_search", lambda args: 0)  # build_parser reads it by name
    assert main(["search", "q", "--user", "a"]) == 0
    assert main(["search", "q", "--user", "a", "--verbose"]) == 0
    assert calls == ["quiet"]


@pytest.fixture
def routed_project(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    docs = tmp_path / "docs"
    docs.mkdir()
    config = tmp_path / "kc.yaml"
    config.write_text(f"home: {home}\nsources:\n"
                      f"  - {{name: e, type: documents, path: {docs}, tenant: eng, "
                      "acl_groups: [eng]}\n"
                      f"  - {{name: f, type: documents, path: {docs}, tenant: fin, "
                      "acl_groups: [fin]}\n")
    monkeypatch.delenv("KC_HOME", raising=False)
    for key in ("KC_CONFIG", "KC_WAREHOUSE", "DAGSTER_HOME"):
        monkeypatch.setenv(key, "")  # prepare() exports these: restore them afterwards
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.document_routes as select * from (values "
                "('eng', 'static', 'e', 'a.md', 'stable'), "
                "('fin', 'volatile', 'f', 'b.md', 'new')) t(tenant, route, source_id, path, "
                "reason)")
    con.execute("create table marts.capacity_budget as select * from (values "
                "('eng', 1, 0, 0, 0, 10.0, 100.0, 0.5, 1.5), "
                "('fin', 0, 1, 0, 0, 20.0, 100.0, 0.25, 2.5)) t(tenant, static_documents, "
                "volatile_documents, overflowed_documents, excluded_documents, used_fact_bits, "
                "capacity_bits, retrieval_cost_usd, compile_cost_usd)")
    con.close()
    return config


def test_routes_tenant_filters_every_table(routed_project, capsys):
    assert main(["--config", str(routed_project), "routes", "--tenant", "eng"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.startswith(("eng", "fin"))]
    assert rows == ["eng", "eng"]  # one routing row, one budget row
    assert main(["--config", str(routed_project), "routes"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.startswith(("eng", "fin"))]
    assert rows == ["eng", "fin", "eng", "fin"]
