"""The one Dagster entry point: merges each domain's Definitions (workspace.yaml loads it)."""

from knowledge_compiler.offline import apply_offline_defaults

apply_offline_defaults()  # before the stack's imports: several libraries call home on import

import dagster as dg  # noqa: E402

from dagster_project.defs.index.definitions import defs as index_defs  # noqa: E402
from dagster_project.defs.ingestion.definitions import defs as ingestion_defs  # noqa: E402
from dagster_project.defs.training.definitions import defs as training_defs  # noqa: E402
from dagster_project.defs.warehouse.definitions import defs as warehouse_defs  # noqa: E402
from dagster_project.resources import default_resources  # noqa: E402

defs = dg.Definitions.merge(
    ingestion_defs,
    warehouse_defs,
    index_defs,
    training_defs,
    dg.Definitions(resources=default_resources()),
)
