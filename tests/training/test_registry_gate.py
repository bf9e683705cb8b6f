"""What the MLflow UI shows of a compile: experiments open on their runs, every candidate version
carries the gate's verdict and reason, evaluation metrics chart first, report links open."""

import doctest

import mlflow
import pytest

import evaluation.promotion
from training import registry
from training.compile import MLflowLoss
from training.mlflow_model import log_adapter


@pytest.fixture
def tracking(tmp_path):
    store = registry.Tracking.local(tmp_path / "kc")
    store.activate()
    yield store
    mlflow.set_tracking_uri("")


def test_experiment_opens_on_its_runs(tracking):
    experiment_id = tracking.activate()  # a second activation keeps one tag
    tags = mlflow.MlflowClient().get_experiment(experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"


def test_run_url_opens_in_a_browser(tracking):
    assert tracking.run_url("1", "abc", "evaluation/index.html") == (
        "http://127.0.0.1:5000/#/experiments/1/runs/abc/artifacts/evaluation/index.html")
    server = registry.Tracking("https://mlflow.corp.example/", "s3://bucket")
    assert server.run_url("7", "r") == "https://mlflow.corp.example/#/experiments/7/runs/r"


def _version(tmp_path, name: str) -> str:
    adapter = tmp_path / "adapter"
    adapter.mkdir(exist_ok=True)
    (adapter / "adapter_config.json").write_text('{"r": 16}')
    with mlflow.start_run() as run:
        log_adapter(adapter, base_model=str(tmp_path / "base"))
    lineage = registry.Lineage("c", "q", "m", "g", "base", "b", "sft", "fin", ("d1",))
    return str(registry.register_version(run.info.run_id, "adapter", name, lineage).version)


@pytest.mark.parametrize(("decision", "lead"), [
    ("rejected", "REJECTED by the evaluation gate; do not promote (@champion stays on version 1)"),
    ("promoted", "Promoted to @champion by the evaluation gate"),
    ("kept", "@champion, re-evaluated by the gate"),
])
def test_gate_verdict_is_on_the_version(tracking, tmp_path, decision, lead):
    name = registry.registered_name("fin")
    _version(tmp_path, name)
    candidate = _version(tmp_path, name)
    registry.record_gate(name, candidate, decision=decision, reason="heldout 0.2 < 0.3",
                         champion="1")
    version = mlflow.MlflowClient().get_model_version(name, candidate)
    assert version.tags["gate_decision"] == decision
    assert version.tags["gate_reason"] == "heldout 0.2 < 0.3"
    assert version.description == f"{lead}: heldout 0.2 < 0.3"


def test_trainer_metrics_chart_after_the_evaluation(tracking):
    with mlflow.start_run() as run:
        MLflowLoss().on_log(None, type("State", (), {"global_step": 3})(), None,
                            logs={"loss": 1.5, "clip_ratio/low_mean": 0.0, "note": "text"})
        mlflow.log_metrics(evaluation.promotion.accuracy_metrics(
            {"heldout_synthetic": {"hybrid": {"exact_match": 0.5}}}))
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert metrics == {"train/loss": 1.5, "train/clip_ratio/low_mean": 0.0,
                       "accuracy/heldout_synthetic/hybrid": 0.5}
    assert sorted(metrics)[0].startswith("accuracy/")


def test_promotion_docstring_examples():
    result = doctest.testmod(evaluation.promotion)
    assert result.attempted > 0 and result.failed == 0
