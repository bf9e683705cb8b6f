"""The per-tenant compile stage through Dagster on a tiny model: QA set → base → SFT → GRPO,
with MLflow runs and registry versions carrying lineage."""

import dagster as dg
import mlflow
import pytest

from dagster_project.definitions import defs
from knowledge_compiler.pipeline import run_stages
from settings.dbt_manifest import ensure_manifest
from tests.training.test_base_support import tiny_llama_dir
from training import registry

TINY = """
training:
  max_train_pairs: 40
  rewrites_per_pair: 0.25
  min_train_accuracy: 0.0
  reading: {share: 0.25}
  sft: {trainer: {max_steps: 4, logging_steps: 1, per_device_train_batch_size: 4, save_steps: 2},
        eval_questions: 4}
  grpo: {trainer: {max_steps: 1, per_device_train_batch_size: 4, num_generations: 4,
                   max_completion_length: 4}, eval_questions: 0}
"""


@pytest.fixture
def project(tmp_path, small_repo, monkeypatch):
    config = tmp_path / "kc.yaml"
    config.write_text(f"""
home: {tmp_path / "home"}
model: {{base: {tiny_llama_dir(tmp_path / "tiny-base")}}}
sources:
  - {{name: repo, type: git, path: {small_repo}, tenant: eng, acl_groups: [eng]}}
""" + TINY)
    monkeypatch.setenv("KC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KC_CONFIG", str(config))
    monkeypatch.setenv("KC_WAREHOUSE", str(tmp_path / "home" / "warehouse.duckdb"))
    monkeypatch.setenv("KC_EMBEDDER", "hashing")
    ensure_manifest()
    yield tmp_path / "home"
    mlflow.set_tracking_uri("")


@pytest.mark.slow  # ~3-5 min on 2 cores: base build, SFT, GRPO and evaluation of a tiny model
def test_compile_stage_trains_registers_and_is_idempotent(project):
    instance = dg.DagsterInstance.ephemeral()
    stages = run_stages(defs, instance, ["eng"], log_level="WARNING")
    assert [(s.name, s.success) for s in stages] == [("refresh", True), ("compile eng", True)]
    compile_run = stages[1].result
    checks = {e.asset_check_key.name: e.passed for e in compile_run.get_asset_check_evaluations()}
    assert checks["drop_rate_under_threshold"] and checks["loss_decreased"]
    assert checks["adapter_size_under_limit"]
    report = next(m for m in compile_run.asset_materializations_for_node("evaluation_report"))
    assert report.metadata["report"].value.endswith("index.html")

    registry.Tracking.local(project).activate()
    name = registry.registered_name("eng")
    # SFT registers version 1 (the first, so champion); GRPO version 2 becomes champion only
    # if the evaluation's promotion gate passed it.
    expected = "2" if checks["promotion_gate"] else "1"
    assert registry.champion_version(name) == expected
    for version in ("1", "2"):
        tags = registry.version_tags(name, version)
        assert registry.missing_lineage(tags) == [], tags
        assert tags["tenant"] == "eng"
    assert registry.version_tags(name, "2")["training_method"] == "grpo"
    # The gate's verdict is on the candidate; the runs carry what they trained on.
    candidate = registry.version_tags(name, "2")
    assert candidate["gate_decision"] == ("promoted" if checks["promotion_gate"] else "rejected")
    assert candidate["gate_reason"] == gate_reason(compile_run)
    run = mlflow.get_run(mlflow.MlflowClient().get_model_version(name, "2").run_id)
    assert {k: run.data.tags[k] for k in ("kc.stage", "kc.tenant", "kc.qa_dataset_sha256")} == {
        "kc.stage": "grpo", "kc.tenant": "eng", "kc.qa_dataset_sha256": tags["qa_dataset_sha256"]}
    assert any(k.startswith("accuracy/heldout_synthetic/") for k in run.data.metrics)
    assert report.metadata["report_url"].value.startswith(
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}/")
    assert {e.partition for e in compile_run.get_asset_check_evaluations()} == {"eng"}
    assert registry.lineage_document_ids(name, "1")  # the repo's static documents
    # The base is registered once, on the first try (it once failed and waited for a retry).
    assert registry.version_with_tag(registry.BASE_MODEL_NAME, "training_method", "base") == "1"
    retried = [e.step_key for e in stages[1].result.all_events
               if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried == []

    again = run_stages(defs, instance, ["eng"], refresh=False, log_level="WARNING")
    assert again[0].success
    gate = next(e for e in again[0].result.get_asset_check_evaluations()
                if e.asset_check_key.name == "promotion_gate")
    if registry.champion_version(name) == "2":  # re-evaluating the champion promotes nothing
        assert "already the champion" in gate.metadata["decision"].value
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name = '{name}'")
    assert len(versions) == 2  # unchanged inputs: nothing retrained or registered
    assert len(MlflowClient().search_model_versions(
        f"name = '{registry.BASE_MODEL_NAME}'")) == 1


def gate_reason(result: dg.ExecuteInProcessResult) -> str:
    gate = next(e for e in result.get_asset_check_evaluations()
                if e.asset_check_key.name == "promotion_gate")
    return gate.metadata["decision"].value
