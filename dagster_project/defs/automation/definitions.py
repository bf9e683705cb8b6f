"""Jobs, schedules and sensors. The jobs select asset groups, so they load (possibly empty)
before the index, training and evaluation assets exist, and take those assets in as they land.

The sensors use the `kc_settings` and `warehouse` resources bound in
``dagster_project.definitions.default_resources``; this module binds only its own.
"""

import dagster as dg

from dagster_project.defs.automation.jobs import compile_knowledge, refresh_index
from dagster_project.defs.automation.schedules import (
    compile_knowledge_schedule,
    refresh_index_schedule,
)
from dagster_project.defs.automation.sensors import (
    SourceWatch,
    record_run_failures,
    source_change_sensor,
)

defs = dg.Definitions(
    jobs=[refresh_index, compile_knowledge],
    schedules=[refresh_index_schedule, compile_knowledge_schedule],
    sensors=[source_change_sensor, record_run_failures],
    resources={"source_watch": SourceWatch()},
)
