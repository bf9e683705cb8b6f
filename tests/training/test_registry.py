"""MLflow registry: lineage tags on every version, champion alias, per-tenant lineage."""

import mlflow
import pytest

from training import registry
from training.mlflow_model import log_adapter


@pytest.fixture
def tracking(tmp_path):
    store = registry.Tracking.local(tmp_path / "kc")
    store.activate()
    yield store
    mlflow.set_tracking_uri("")


def _lineage(tenant: str, docs: tuple[str, ...], method: str = "sft") -> registry.Lineage:
    return registry.Lineage(corpus_snapshot_hash="c" * 64, qa_dataset_sha256="q" * 64,
                            dbt_manifest_hash="m" * 64, git_sha="abc123", base_model_id="kc-base",
                            base_model_hash="b" * 64, training_method=method, tenant=tenant,
                            source_document_ids=docs)


def _log_fake_adapter(tmp_path, tenant: str) -> str:
    adapter = tmp_path / f"adapter-{tenant}"
    adapter.mkdir(exist_ok=True)
    (adapter / "adapter_config.json").write_text('{"r": 16}')
    with mlflow.start_run() as run:
        log_adapter(adapter, base_model=str(tmp_path / "base"))
    return run.info.run_id


def test_versions_carry_lineage_and_first_is_champion(tracking, tmp_path):
    name = registry.registered_name("finance")
    first = registry.register_version(_log_fake_adapter(tmp_path, "finance"), "adapter", name,
                                      _lineage("finance", ("d2", "d1")))
    tags = registry.version_tags(name, first.version)
    assert registry.missing_lineage(tags) == []
    assert tags["source_documents_count"] == "2"
    assert tags["source_documents_sha256"] == registry.sha256_text("d1\nd2")
    assert registry.champion_version(name) == str(first.version)

    second = registry.register_version(_log_fake_adapter(tmp_path, "finance"), "adapter", name,
                                       _lineage("finance", ("d1",), method="grpo"))
    assert registry.champion_version(name) == str(first.version)  # waits for the gate
    registry.promote(name, second.version, reason="heldout 0.81 >= 0.78")
    assert registry.champion_version(name) == str(second.version)
    assert registry.version_tags(name, second.version)["promotion_reason"].startswith("heldout")


def test_each_tenant_lineage_lists_only_its_documents(tracking, tmp_path):
    for tenant, docs in (("engineering", ("e1", "e2")), ("finance", ("f1",))):
        registry.register_version(_log_fake_adapter(tmp_path, tenant), "adapter",
                                  registry.registered_name(tenant), _lineage(tenant, docs))
    assert registry.lineage_document_ids("kc-engineering", "1") == ["e1", "e2"]
    assert registry.lineage_document_ids("kc-finance", "1") == ["f1"]


def test_hash_helpers(tmp_path):
    (tmp_path / "a").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_text("y")
    first = registry.dir_sha256(tmp_path)
    assert first == registry.dir_sha256(tmp_path)
    (tmp_path / "sub" / "b").write_text("z")
    assert registry.dir_sha256(tmp_path) != first
    assert len(registry.project_git_sha()) >= 7


def test_a_plain_folder_of_weights_registers_by_its_artifact_location(tracking, tmp_path):
    # kc-base is logged as its Hugging Face files (no MLmodel): MLflow 3's register_model
    # refuses that runs:/ URI, which once sent every fresh kc-base build into a retry.
    weights = tmp_path / "kc-base"
    weights.mkdir()
    (weights / "config.json").write_text("{}")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(weights), artifact_path="model")
    version = registry.register_version(run.info.run_id, "model", registry.BASE_MODEL_NAME,
                                        _lineage("shared", (), method="base"))
    assert version.source.endswith("/model")
    assert registry.champion_version(registry.BASE_MODEL_NAME) == str(version.version)
    with mlflow.start_run() as empty:
        pass
    with pytest.raises(ValueError, match="nothing at artifact path"):
        registry.register_version(empty.info.run_id, "model", registry.BASE_MODEL_NAME,
                                  _lineage("shared", (), method="base"))


def test_version_with_tag(tracking, tmp_path):
    name = registry.registered_name("finance")
    assert registry.version_with_tag(name, "training_method", "sft") is None
    registry.register_version(_log_fake_adapter(tmp_path, "finance"), "adapter", name,
                              _lineage("finance", ("d1",)))
    registry.register_version(_log_fake_adapter(tmp_path, "finance"), "adapter", name,
                              _lineage("finance", ("d1",), method="grpo"))
    assert registry.version_with_tag(name, "training_method", "sft") == "1"
    assert registry.version_with_tag(name, "training_method", "grpo") == "2"
    assert registry.version_with_tag(name, "training_method", "dpo") is None
