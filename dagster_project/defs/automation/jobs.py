"""The two jobs the automation launches, built from asset groups so new assets join them.

``refresh_index`` re-reads the sources and rebuilds everything retrieval serves: cheap, run
often. ``compile_knowledge`` trains and evaluates: expensive, run weekly or by hand. It selects
only the ``training`` and ``evaluation`` groups, not their upstream: it compiles from the
warehouse and index the last ``refresh_index`` left (the schedules put a refresh an hour before
it), so a compile never re-ingests and never holds the warehouse for writing longer than it must.
Launch ``refresh_index`` first when a compile must see changes made a minute ago.
The training assets are partitioned by tenant, so a compile run is one tenant's; the weekly
schedule requests one per tenant.
"""

import dagster as dg

REFRESH_INDEX_GROUPS = ("ingestion", "warehouse", "index")
COMPILE_KNOWLEDGE_GROUPS = ("training", "evaluation")

# DuckDB admits one writer per file, and a read-only connection fails while another process
# writes, so runs that touch the warehouse must not overlap. Every such job carries this tag;
# WAREHOUSE_CONCURRENCY_YAML limits the tag to one run at a time in the run queue.
WAREHOUSE_TAG = {"kc/warehouse": "exclusive"}

WAREHOUSE_CONCURRENCY_YAML = """\
concurrency:
  runs:
    tag_concurrency_limits:
      - key: kc/warehouse
        limit: 1
"""

refresh_index = dg.define_asset_job(
    "refresh_index",
    selection=dg.AssetSelection.groups(*REFRESH_INDEX_GROUPS),
    description="Ingest every source, rebuild the dbt models and the retrieval index.",
    tags=WAREHOUSE_TAG,
)

compile_knowledge = dg.define_asset_job(
    "compile_knowledge",
    selection=dg.AssetSelection.groups(*COMPILE_KNOWLEDGE_GROUPS),
    description="Synthesize QA, train the tenants' adapters (SFT, GRPO) and evaluate them, "
                "from the last refreshed warehouse and index.",
    tags=WAREHOUSE_TAG,
)
