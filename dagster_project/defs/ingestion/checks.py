"""Data contracts on the raw layer."""

import dagster as dg

from dagster_project.resources import KCSettings, Warehouse
from ingestion.scrub import contains_secret

MAX_FAILURE_RATE = 0.2


@dg.asset_check(asset=dg.AssetKey(["raw", "chunks"]), blocking=True)
def chunks_not_empty(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every configured source must contribute chunks: none means nothing to route or learn.
    A source no group may read (a GitHub repository refused by the access mapping) is left
    out: it holds its failure row and, by design, nothing else."""
    with warehouse.connect(read_only=True) as con:
        rows = con.execute("""
            select s.source_id, count(c.chunk_id)
            from raw.sources s
            left join raw.documents d on d.source_id = s.source_id and not d.is_deleted
            left join raw.chunks c on c.document_id = d.document_id
            where len(s.acl_groups) > 0
            group by 1 order by 1""").fetchall()
    empty = [source for source, n in rows if n == 0]
    return dg.AssetCheckResult(passed=bool(rows) and not empty,
                               metadata={"chunks_per_source": dict(rows), "empty_sources": empty})


@dg.asset_check(asset=dg.AssetKey(["raw", "ingest_failures"]))
def failure_rate_under_threshold(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Quarantined files per source stay under 20% of the files the source offered."""
    with warehouse.connect(read_only=True) as con:
        rows = con.execute("""
            with docs as (select source_id, count(*) filter (where not is_deleted) n
                          from raw.documents group by 1),
                 fails as (select source_id, count(*) n from raw.ingest_failures group by 1)
            select s.source_id, coalesce(d.n, 0), coalesce(f.n, 0)
            from raw.sources s left join docs d using (source_id)
            left join fails f using (source_id) order by 1""").fetchall()
    rates = {src: (fail / (ok + fail) if ok + fail else 0.0) for src, ok, fail in rows}
    worst = max(rates.values(), default=0.0)
    return dg.AssetCheckResult(passed=worst <= MAX_FAILURE_RATE,
                               severity=dg.AssetCheckSeverity.WARN,
                               metadata={"failure_rate": dg.MetadataValue.json(rates),
                                         "threshold": MAX_FAILURE_RATE})


@dg.asset_check(asset=dg.AssetKey(["raw", "chunks"]), blocking=True)
def no_secrets_in_chunks(warehouse: Warehouse, kc_settings: KCSettings) -> dg.AssetCheckResult:
    """No stored chunk may still match a secret pattern (scrubbing ran before storage)."""
    del kc_settings  # bound for symmetry; the patterns do not depend on configuration
    with warehouse.connect(read_only=True) as con:
        rows = con.execute("select chunk_id, text from raw.chunks").fetchall()
    leaks = {chunk: kinds for chunk, text in rows if (kinds := contains_secret(text))}
    return dg.AssetCheckResult(passed=not leaks,
                               metadata={"chunks_scanned": len(rows),
                                         "chunks_with_secrets": len(leaks),
                                         "examples": dg.MetadataValue.json(
                                             dict(list(leaks.items())[:10]))})
