import dagster as dg

from dagster_project.defs.evaluation.assets import evaluation_report

defs = dg.Definitions(assets=[evaluation_report])
