import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from dagster_project.defs.warehouse.assets import DBT_PROJECT, routing_models

# The dbt installed beside this interpreter, whether or not the venv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


class LocalDbtCliResource(DbtCliResource):
    """dagster-dbt's resource for the dbt-core installed beside this interpreter.

    dagster-dbt learns the dbt version by starting ``dbt --version`` once per run: ~2.5 s of
    imports in every refresh (py-spy of the one-document refresh). The executable is this
    environment's own dbt, so its version is the installed dbt-core package's.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))


defs = dg.Definitions(
    assets=[routing_models],
    # target "subprocess" (dbt/profiles.yml): the warehouse stays open for the whole build.
    resources={"dbt": LocalDbtCliResource(project_dir=DBT_PROJECT,
                                          dbt_executable=DBT_EXECUTABLE,
                                          target="subprocess")},
)
