"""The whole graph defined so far (ingestion → dbt routing) on the Northwind sample corpus."""

import shutil
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from examples.northwind.build import apply_week_later, build_corpus
from knowledge_compiler.pipeline import run_stages
from settings.dbt_manifest import ensure_manifest
from tests.conftest import REPO_ROOT

WEEKLY = {("platform-api", "CHANGELOG.md"), ("platform-api", "ONCALL.md"),
          ("platform-api", "STATUS.md"), ("billing-service", "config/settings.yaml"),
          ("eng-docs", "oncall/rota.md"), ("eng-docs", "status/service-status.html"),
          ("fin-docs", "meetings/weekly-finance-sync.md")}
NEVER_CHANGED = {("platform-api", "docs/design/pagination.md"),
                 ("platform-api", "platform_api/routing.py"), ("billing-service", "README.md"),
                 ("billing-service", "billing/invoices.py"),
                 ("eng-docs", "adr/ADR-0011-grpc-internal-calls.md"),
                 ("fin-docs", "pricing/price-list.html")}


def _config(home: Path, extra: str = "") -> Path:
    sample = (REPO_ROOT / "examples" / "northwind" / "kc.yaml").read_text()
    path = home / "kc.yaml"
    path.write_text(sample.replace("home: .kc", f"home: {home}") + textwrap.dedent(extra))
    return path


def _run(config: Path, home: Path, monkeypatch, *, compile_tenants: bool = False) -> None:
    monkeypatch.setenv("KC_HOME", str(home))
    monkeypatch.setenv("KC_CONFIG", str(config))
    monkeypatch.setenv("KC_WAREHOUSE", str(home / "warehouse.duckdb"))
    monkeypatch.setenv("KC_EMBEDDER", "hashing")  # the real embedder is tested in retrieval/
    ensure_manifest()
    from dagster_project.definitions import defs

    # The compile stage stops at the QA sets here: training runs in the slow compile test.
    stages = run_stages(defs, dg.DagsterInstance.ephemeral(), ["engineering", "finance"],
                        compile_tenants=compile_tenants, log_level="WARNING",
                        compile_selection=dg.AssetSelection.assets("qa_dataset"))
    failed = [(s.name, s.failed_steps) for s in stages if not s.success]
    assert not failed, failed


def _query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def northwind(tmp_path_factory):
    home = tmp_path_factory.mktemp("kc")
    manifest = build_corpus(home / "northwind")
    yield home, manifest
    shutil.rmtree(home, ignore_errors=True)


def test_routes_secrets_and_idempotence(northwind, monkeypatch):
    home, manifest = northwind
    config = _config(home)
    _run(config, home, monkeypatch, compile_tenants=True)

    assert _query(home, "select count(*) from raw.ingest_failures") == [(0,)]
    pairs = dict(_query(home, "select split, count(*) from qa.pairs group by 1"))
    assert pairs["train"] > 1000 and pairs["eval"] > 300 and pairs["volatile_eval"] > 100
    assert _query(home, "select count(*) from qa.pairs t join qa.pairs e using (question) "
                        "where t.split = 'train' and e.split <> 'train'") == [(0,)]
    docs = _query(home, "select count(*) from raw.documents")[0][0]
    assert docs == len(manifest.documents) + 34  # 34 text files at HEAD in the two repos
    routes = {(s, p): r for s, p, r in _query(
        home, "select source_id, path, route from marts.document_routes")}
    assert all(routes[k] == "volatile" for k in WEEKLY), {k: routes[k] for k in WEEKLY}
    assert all(routes[k] == "static" for k in NEVER_CHANGED), {k: routes[k] for k in NEVER_CHANGED}
    training = _query(home, "select count(*), count(distinct tenant) from "
                            "marts.chunks_for_training")[0]
    assert training[0] > 100 and training[1] == 2

    # No planted secret or PII value reaches any table of the warehouse.
    tables = _query(home, "select table_schema, table_name from information_schema.tables "
                          "where table_schema in ('raw', 'staging', 'intermediate', 'marts')")
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        dump = "\n".join(str(row) for schema, table in tables
                         for row in con.execute(f'select * from {schema}."{table}"').fetchall())
    finally:
        con.close()
    leaked = [kind for kind, value in manifest.planted_secrets + manifest.planted_pii
              if value in dump]
    assert leaked == []

    counts = ("select (select count(*) from raw.document_versions), "
              "(select count(*) from raw.chunks), (select count(*) from raw.git_commits)")
    before = _query(home, counts)
    _run(config, home, monkeypatch)
    after = _query(home, counts)
    assert after == before


def test_threshold_in_kc_yaml_moves_documents(northwind, monkeypatch):
    home, _ = northwind
    relaxed = _config(home, """
        policy:
          min_stable_days: 1
          max_changes_90d: 100
    """)
    _run(relaxed, home, monkeypatch)
    routes = dict(((s, p), r) for s, p, r in _query(
        home, "select source_id, path, route from marts.document_routes"))
    assert routes[("eng-docs", "oncall/rota.md")] == "static"  # first seen 5 days ago
    assert routes[("platform-api", "CHANGELOG.md")] == "static"  # 13 changes < 100
    _run(_config(home), home, monkeypatch)  # back to the defaults
    assert _query(home, "select route from marts.document_routes where path = 'oncall/rota.md'"
                  ) == [("volatile",)]


def test_week_later_adds_exactly_the_changed_versions(northwind, monkeypatch):
    home, _ = northwind
    before = _query(home, "select count(*) from raw.document_versions")[0][0]
    change = apply_week_later(home / "northwind")
    _run(_config(home), home, monkeypatch)
    after = _query(home, "select count(*) from raw.document_versions")[0][0]
    assert after - before == 3  # status page, price list, platform-api STATUS.md
    status_text = _query(home, "select string_agg(c.text, ' ') from raw.chunks c join "
                               "raw.documents d using (document_id) "
                               "where d.path = 'status/service-status.html'")[0][0]
    assert change["volatile"]["new"] in status_text
    assert change["volatile"]["old"] not in status_text
