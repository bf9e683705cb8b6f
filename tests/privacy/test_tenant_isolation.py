"""Tenant isolation end to end: no chunk, citation or adapter of another tenant."""

import mlflow
import pytest

from evaluation.privacy.isolation import (
    TENANTS,
    adapter_lineage_leaks,
    registered_lineage,
    run_isolation_check,
)


@pytest.fixture(scope="module")
def isolation(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("isolation")
    return workdir, run_isolation_check(workdir, queries_per_user=100)


def test_no_user_sees_another_tenants_chunks(isolation):
    _, report = isolation
    assert report.searches == 300 and report.ask_retrievals == 603
    assert report.hits_checked > 3 * 100 * 5  # queries did find chunks
    assert report.leak_examples == [] and report.leaks == 0


@pytest.mark.slow
def test_no_leak_in_a_thousand_queries_per_user(tmp_path):
    report = run_isolation_check(tmp_path, queries_per_user=1000)
    assert report.searches == 3000
    assert report.leaks == 0, report.leak_examples


def test_the_check_sees_a_leak_when_the_filter_is_wrong(isolation, monkeypatch):
    """Proves the check can fail: a prefilter that admits every tenant is caught."""
    from retrieval.access import AccessScope

    workdir, _ = isolation
    monkeypatch.setattr(AccessScope, "to_filter", lambda self: "tenant IS NOT NULL")
    broken = run_isolation_check(workdir / "broken", queries_per_user=5)
    assert broken.leaks > 0
    assert {e["tenant"] for e in broken.leak_examples} - {"acme"}


def test_adapter_lineage_lists_only_the_tenants_documents(isolation, tmp_path):
    from training import registry
    from training.mlflow_model import log_adapter

    workdir, _ = isolation
    warehouse = workdir / "home" / "warehouse.duckdb"
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    docs = dict(con.execute("select s.tenant, list(d.document_id order by d.document_id) "
                            "from raw.documents d join raw.sources s using (source_id) "
                            "group by 1").fetchall())
    con.close()
    registry.Tracking.local(tmp_path / "kc").activate()
    try:
        for tenant in TENANTS:
            own = tuple(docs[tenant])
            # initech's adapter was (wrongly) trained on one acme document as well.
            trained = own + ((docs["acme"][0],) if tenant == "initech" else ())
            adapter = tmp_path / f"adapter-{tenant}"
            adapter.mkdir()
            (adapter / "adapter_config.json").write_text('{"r": 4}')
            with mlflow.start_run() as run:
                log_adapter(adapter, base_model=str(tmp_path / "base"))
            registry.register_version(
                run.info.run_id, "adapter", registry.registered_name(tenant),
                registry.Lineage("c", "q", "m", "g", "kc-base", "b", "sft", tenant, trained))
        lineage = registered_lineage(TENANTS)
    finally:
        mlflow.set_tracking_uri("")
    leaks = adapter_lineage_leaks(warehouse, lineage)
    assert leaks == {"kc-acme/1": [], "kc-globex/1": [], "kc-initech/1": [docs["acme"][0]]}
