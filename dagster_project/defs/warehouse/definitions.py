import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.defs.warehouse.assets import DBT_PROJECT, routing_models

# The dbt installed beside this interpreter, whether or not the venv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

defs = dg.Definitions(
    assets=[routing_models],
    # target "subprocess" (dbt/profiles.yml): the warehouse stays open for the whole build.
    resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE,
                                     target="subprocess")},
)
