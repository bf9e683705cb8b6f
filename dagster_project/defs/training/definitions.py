import dagster as dg

from dagster_project.defs.training.assets import qa_dataset

defs = dg.Definitions(assets=[qa_dataset])
