"""`kc audit`: one table of privacy figures, also written as JSON under reports/."""

import json

import duckdb
import pytest

from knowledge_compiler.audit import format_table, run_audit
from knowledge_compiler.cli import main
from settings.config import load_settings

LEAKED = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"


@pytest.fixture
def config(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (tmp_path / "docs").mkdir()
    path = tmp_path / "kc.yaml"
    path.write_text(f"home: {home}\nsources:\n  - name: docs\n    type: documents\n"
                    f"    path: {tmp_path / 'docs'}\n    tenant: acme\n    acl_groups: [eng]\n")
    monkeypatch.delenv("KC_HOME", raising=False)
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("create schema raw; create table raw.chunks (chunk_id varchar, text varchar)")
    con.execute("insert into raw.chunks values ('c1', 'Deploy notes, nothing secret.')")
    con.close()
    return path


def test_clean_stores_pass(config):
    rows = run_audit(load_settings(config), probes=("stores",))
    assert rows == [{"probe": "secrets in stores", "subject": "duckdb raw.chunks (home)",
                     "figure": "chunks the scrubber flags on a re-scan", "value": 0,
                     "goal": "0", "passed": True}]


def test_a_stored_secret_fails_the_audit_and_the_command(config, capsys):
    con = duckdb.connect(str(config.parent / "home" / "warehouse.duckdb"))
    con.execute("insert into raw.chunks values ('c2', ?)", [f"token {LEAKED}"])
    con.close()
    assert main(["--config", str(config), "audit", "--probe", "stores"]) == 1
    out = capsys.readouterr().out
    assert "chunks the scrubber flags on a re-scan" in out and "FAIL" in out
    report = json.loads((config.parent / "home" / "reports" / "audit.json").read_text())
    assert report["rows"][0]["value"] == 1 and report["rows"][0]["passed"] is False


def test_table_has_one_line_per_row_and_the_row_keys():
    rows = [{"probe": "p", "subject": "s", "figure": "f", "value": 0.12345, "goal": "g",
             "passed": None}]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["probe", "subject", "figure", "value", "goal", "passed"]
    assert lines[2].split() == ["p", "s", "f", "0.123", "g"]


def test_unknown_probe_is_refused(config):
    with pytest.raises(ValueError, match="unknown audit probes"):
        run_audit(load_settings(config), probes=("nope",))
