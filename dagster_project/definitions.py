"""The one Dagster entry point: merges each domain's Definitions (workspace.yaml loads it).

Domain modules are imported as modules, not their `defs` objects: Dagster refuses a module
that holds more than one Definitions object at module scope.
"""

from settings.offline import apply_offline_defaults

apply_offline_defaults()  # before the stack's imports: several libraries call home on import

import dagster as dg  # noqa: E402

from dagster_project import resources  # noqa: E402
from dagster_project.defs.automation import definitions as automation  # noqa: E402
from dagster_project.defs.evaluation import definitions as evaluation  # noqa: E402
from dagster_project.defs.index import definitions as index  # noqa: E402
from dagster_project.defs.ingestion import definitions as ingestion  # noqa: E402
from dagster_project.defs.training import definitions as training  # noqa: E402
from dagster_project.defs.warehouse import definitions as warehouse  # noqa: E402

defs = dg.Definitions.merge(
    ingestion.defs,
    warehouse.defs,
    index.defs,
    training.defs,
    evaluation.defs,
    automation.defs,
    dg.Definitions(resources=resources.default_resources()),
)
