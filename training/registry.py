"""MLflow tracking and the model registry: one registered model per tenant, lineage on every
version, promotion by alias (`champion`), never by the deprecated stages.

Tracking lives under ``$KC_HOME`` by default (``mlflow.db`` + ``mlartifacts/``); any MLflow
tracking URI works in its place.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CHAMPION = "champion"
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
LOCAL_UI = "http://127.0.0.1:5000"  # `kc ui`'s MLflow server
BASE_MODEL_NAME = "kc-base"
LINEAGE_KEYS = ("corpus_snapshot_hash", "qa_dataset_sha256", "dbt_manifest_hash", "git_sha",
                "base_model_id", "base_model_hash", "training_method", "tenant",
                "source_documents_sha256", "source_documents_count")


def registered_name(tenant: str) -> str:
    return f"kc-{tenant}"


@dataclass(frozen=True)
class Tracking:
    """Where runs and models go."""

    tracking_uri: str
    artifact_root: str
    experiment: str = "knowledge-compiler"

    @classmethod
    def local(cls, kc_home: Path) -> Tracking:
        kc_home.mkdir(parents=True, exist_ok=True)
        return cls(tracking_uri=f"sqlite:///{kc_home / 'mlflow.db'}",
                   artifact_root=(kc_home / "mlartifacts").as_uri())

    def activate(self) -> str:
        """Point mlflow at this store and return the experiment id (created on first use)."""
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        existing = mlflow.get_experiment_by_name(self.experiment)
        if existing is not None:
            experiment_id = existing.experiment_id
        else:
            experiment_id = mlflow.create_experiment(self.experiment,
                                                     artifact_location=self.artifact_root)
        mlflow.set_experiment(experiment_id=experiment_id)
        # The MLflow 3 UI opens an experiment of unknown kind on its GenAI traces ("No data");
        # a training experiment's kind makes it open on its runs.
        client = mlflow.MlflowClient()
        if EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags:
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return experiment_id

    def run_url(self, experiment_id: str, run_id: str, artifact: str = "") -> str:
        """The run's page (or an artifact's, under ``artifact``) in the MLflow UI: the tracking
        server itself when it is one, else the UI `kc ui` starts (port 5000)."""
        base = (self.tracking_uri if self.tracking_uri.startswith(("http://", "https://"))
                else LOCAL_UI)
        page = f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
        return f"{page}/artifacts/{artifact}" if artifact else page


@dataclass(frozen=True)
class Lineage:
    """What a model version was made from. Every field becomes a tag of the version."""

    corpus_snapshot_hash: str
    qa_dataset_sha256: str
    dbt_manifest_hash: str
    git_sha: str
    base_model_id: str
    base_model_hash: str
    training_method: str  # sft | grpo | base
    tenant: str
    source_document_ids: tuple[str, ...]

    def tags(self) -> dict[str, str]:
        tags = {k: str(v) for k, v in asdict(self).items() if k != "source_document_ids"}
        ids = sorted(self.source_document_ids)
        tags["source_documents_sha256"] = sha256_text("\n".join(ids))
        tags["source_documents_count"] = str(len(ids))
        return tags


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dir_sha256(path: Path) -> str:
    """Hash of a folder's files (names and bytes), independent of listing order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def project_git_sha(repo: Path | None = None) -> str:
    """The project's commit, with '+dirty' when the work tree has changes; 'unknown' outside
    a git checkout (an installed wheel)."""
    root = repo or Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def log_config(config: object, prefix: str = "") -> None:
    """Log a (nested) config dataclass, pydantic model or mapping as flat MLflow params."""
    import mlflow

    flat: dict[str, str] = {}

    def walk(value: object, key: str) -> None:
        if hasattr(value, "__dataclass_fields__"):
            value = asdict(value)  # type: ignore[arg-type]
        elif hasattr(value, "model_dump"):  # a kc.yaml section (pydantic): the keys given
            value = value.model_dump()
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        else:
            flat[key] = json.dumps(value, default=str)[:6000] if not isinstance(
                value, str) else value[:6000]

    walk(config, prefix)
    for chunk_start in range(0, len(flat), 90):  # MLflow accepts at most 100 params a call
        mlflow.log_params(dict(list(flat.items())[chunk_start:chunk_start + 90]))


def register_version(run_id: str, artifact_path: str, name: str, lineage: Lineage,
                     *, description: str = "") -> object:
    """Register ``runs:/run_id/artifact_path`` as a new version of ``name`` with lineage tags.

    The first version of a model becomes ``@champion``; later ones wait for the evaluation
    gate (``promote``).
    """
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(name, description=description or
                                       f"Knowledge Compiler adapters for tenant {lineage.tenant}")
    version = _create_version(client, run_id, artifact_path, name, lineage.tags())
    with tempfile.TemporaryDirectory() as tmp:
        ids = Path(tmp) / "source_document_ids.json"
        ids.write_text(json.dumps(sorted(lineage.source_document_ids), indent=0))
        client.log_artifact(run_id, str(ids), artifact_path="lineage")
    if champion_version(name) is None:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return version


def _create_version(client: Any, run_id: str, artifact_path: str, name: str,
                    tags: dict[str, str]) -> Any:
    """A new version of ``name`` from the run's ``artifact_path``.

    ``mlflow.register_model`` takes a logged MLflow model (the adapters: ``log_adapter``); a
    plain folder of files (the base model's Hugging Face weights) has no ``MLmodel`` and MLflow 3
    refuses its ``runs:/`` URI, so such a folder is registered by its artifact location.
    """
    import mlflow

    run = client.get_run(run_id)
    logged = [m for m in client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'") if m.name == artifact_path]
    if logged:
        return mlflow.register_model(f"runs:/{run_id}/{artifact_path}", name, tags=tags)
    if not client.list_artifacts(run_id, artifact_path):
        raise ValueError(f"run {run_id} has nothing at artifact path {artifact_path!r}")
    return client.create_model_version(name, f"{run.info.artifact_uri}/{artifact_path}",
                                       run_id=run_id, tags=tags)


def champion_version(name: str) -> str | None:
    """The version number behind ``@champion``, or None."""
    import mlflow
    from mlflow import MlflowClient

    try:
        return str(MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def promote(name: str, version: str, *, reason: str) -> None:
    """Move ``@champion`` to ``version`` and record why on the version."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_model_version_tag(name, str(version), "promotion_reason", reason)


def record_gate(name: str, version: str, *, decision: str, reason: str,
                champion: str | None) -> None:
    """Write the promotion gate's verdict on the version it judged: tags (``gate_decision``:
    promoted, rejected or kept; ``gate_reason``) and the description the registry UI shows
    beside its promote button, so a rejected version says why it must not be promoted."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.set_model_version_tag(name, str(version), "gate_decision", decision)
    client.set_model_version_tag(name, str(version), "gate_reason", reason)
    lead = {"promoted": f"Promoted to @{CHAMPION} by the evaluation gate",
            "kept": f"@{CHAMPION}, re-evaluated by the gate",
            "rejected": f"REJECTED by the evaluation gate; do not promote (@{CHAMPION} "
                        + (f"stays on version {champion})" if champion else "is unset)")
            }[decision]
    client.update_model_version(name, str(version), description=f"{lead}: {reason}")


def version_with_tag(name: str, key: str, value: str) -> str | None:
    """The newest version of ``name`` tagged ``key=value``, or None (also when ``name`` is
    not registered)."""
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name = '{name}'")
    found = [v.version for v in versions if v.tags.get(key) == value]
    return str(max(found, key=int)) if found else None


def version_tags(name: str, version: str) -> dict[str, str]:
    from mlflow import MlflowClient

    return dict(MlflowClient().get_model_version(name, version).tags)


def lineage_document_ids(name: str, version: str) -> list[str]:
    """The source document ids a version was trained on (from its run's lineage artifact)."""
    import mlflow
    from mlflow import MlflowClient

    run_id = MlflowClient().get_model_version(name, version).run_id
    path = mlflow.artifacts.download_artifacts(run_id=run_id,
                                               artifact_path="lineage/source_document_ids.json")
    return json.loads(Path(path).read_text())


def missing_lineage(tags: Mapping[str, str], keys: Iterable[str] = LINEAGE_KEYS) -> list[str]:
    return [k for k in keys if not tags.get(k)]
