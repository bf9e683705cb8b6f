"""Resources shared by every domain: the project settings and the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.warehouse import connect
from settings.config import Settings, load_settings


class KCSettings(dg.ConfigurableResource):
    """kc.yaml, loaded and validated when a run starts."""

    config_path: str

    def load(self) -> Settings:
        return load_settings(self.config_path)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse. Connections are short-lived: dbt needs the file free."""

    path: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(Path(self.path), read_only=read_only) as con:
            yield con


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Bound from the environment at run time (`kc` sets these from kc.yaml)."""
    from dagster_project.defs.index.resources import EmbedderResource
    from dagster_project.defs.training.mlflow_resource import MLflowTracking
    from dagster_project.defs.training.resources import QAGenerator

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
