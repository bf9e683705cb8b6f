import dagster as dg

from dagster_project.defs.index.assets import rag_index
from dagster_project.defs.index.checks import (
    every_chunk_has_a_vector,
    index_matches_chunks_for_index,
    no_cross_tenant_rows,
)

defs = dg.Definitions(
    assets=[rag_index],
    asset_checks=[index_matches_chunks_for_index, every_chunk_has_a_vector, no_cross_tenant_rows],
)
