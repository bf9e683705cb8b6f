"""The one Dagster entry point: merges each domain's Definitions (workspace.yaml loads it).

Domain modules are imported as modules, not their `defs` objects: Dagster refuses a module
that holds more than one Definitions object at module scope.
"""

from settings.offline import apply_offline_defaults

apply_offline_defaults()  # before the stack's imports: several libraries call home on import

import dagster as dg  # noqa: E402

from dagster_project.defs.automation import definitions as automation  # noqa: E402
from dagster_project.defs.evaluation import definitions as evaluation  # noqa: E402
from dagster_project.defs.index import definitions as index  # noqa: E402
from dagster_project.defs.index.resources import EmbedderResource  # noqa: E402
from dagster_project.defs.ingestion import definitions as ingestion  # noqa: E402
from dagster_project.defs.training import definitions as training  # noqa: E402
from dagster_project.defs.training.mlflow_resource import MLflowTracking  # noqa: E402
from dagster_project.defs.training.resources import QAGenerator  # noqa: E402
from dagster_project.defs.warehouse import definitions as warehouse  # noqa: E402
from dagster_project.resources import KCSettings, Warehouse  # noqa: E402


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Bound from the environment at run time (`kc` sets these from kc.yaml)."""
    settings = KCSettings(config_path=dg.EnvVar("KC_CONFIG"))
    return {
        "kc_settings": settings,
        "warehouse": Warehouse(path=dg.EnvVar("KC_WAREHOUSE")),
        # KC_EMBEDDER=hashing swaps in the small deterministic embedder (tests); `kc` sets
        # sentence-transformers: the model of kc.yaml's `retrieval` section.
        "embedder": EmbedderResource(kc_settings=settings, kind=dg.EnvVar("KC_EMBEDDER")),
        "qa_generator": QAGenerator(kc_settings=settings),
        "mlflow_tracking": MLflowTracking(kc_settings=settings),
    }


defs = dg.Definitions.merge(
    ingestion.defs,
    warehouse.defs,
    index.defs,
    training.defs,
    evaluation.defs,
    automation.defs,
    dg.Definitions(resources=default_resources()),
)
