"""What the routing decided, as dbt left it in the warehouse (marts.document_routes,
marts.capacity_budget), and the QA sets synthesised from it: the tables `kc routes` and
`kc demo` print."""

from __future__ import annotations

import duckdb


def document_routes(con: duckdb.DuckDBPyConnection, tenant: str | None = None,
                    route: str | None = None) -> list[tuple]:
    """(tenant, route, source_id, path, reason) of every document, optionally filtered."""
    where, params = ["true"], []
    if tenant:
        where.append("tenant = ?")
        params.append(tenant)
    if route:
        where.append("route = ?")
        params.append(route)
    return con.execute(
        "select tenant, route, source_id, path, reason from marts.document_routes "
        f"where {' and '.join(where)} order by tenant, route, source_id, path",
        params).fetchall()


def capacity_budgets(con: duckdb.DuckDBPyConnection, tenant: str | None = None) -> list[tuple]:
    """Per tenant (or only `tenant`): static, volatile, overflowed and excluded documents,
    fact-bits used and the capacity, and the retrieval and compile costs."""
    return con.execute(
        "select tenant, static_documents, volatile_documents, overflowed_documents, "
        "excluded_documents, used_fact_bits, capacity_bits, retrieval_cost_usd, "
        "compile_cost_usd from marts.capacity_budget where ? is null or tenant = ? "
        "order by tenant", [tenant, tenant]).fetchall()


def qa_counts(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, dict[str, int]],
                                                       dict[str, int]]:
    """Current QA pairs per tenant and split, and study notes per tenant."""
    counts: dict[str, dict[str, int]] = {}
    for tenant, split, n in con.execute("select tenant, split, count(*) from qa.pairs where "
                                        "not superseded group by all order by all").fetchall():
        counts.setdefault(tenant, {})[split] = n
    notes = dict(con.execute("select tenant, count(*) from qa.notes group by 1").fetchall())
    return counts, notes
