import dagster as dg

from dagster_project.defs.ingestion.assets import ingest_sources
from dagster_project.defs.ingestion.checks import (
    chunks_not_empty,
    failure_rate_under_threshold,
    no_secrets_in_chunks,
)

defs = dg.Definitions(
    assets=[ingest_sources],
    asset_checks=[chunks_not_empty, failure_rate_under_threshold, no_secrets_in_chunks],
)
