"""Resources shared by every domain: the project settings and the warehouse (the domains'
own resources live in `defs/<domain>/resources.py`; `definitions.py` binds them all)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.warehouse import connect
from settings.config import Settings, load_settings
from training.config import check as check_training_sections


class KCSettings(dg.ConfigurableResource):
    """kc.yaml, loaded and validated when a run starts."""

    config_path: str

    def load(self) -> Settings:
        return check_training_sections(load_settings(self.config_path))


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse. Connections are short-lived: dbt needs the file free."""

    path: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(Path(self.path), read_only=read_only) as con:
            yield con
