import dagster as dg

from dagster_project.defs.training.assets import qa_dataset
from dagster_project.defs.training.model_assets import (
    base_model,
    grpo_adapter,
    sft_adapter,
)

defs = dg.Definitions(assets=[qa_dataset, base_model, sft_adapter,
                                 grpo_adapter])
