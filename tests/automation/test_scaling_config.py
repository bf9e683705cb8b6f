"""Every file under docs/scale-out/ is checked here: by the tool that will read it where that tool
is installed, by its shape where it is not (docs/scaling.md says which is which)."""

import os
import shutil
from urllib.parse import urlparse

import pytest
import yaml

from dagster_project.defs.automation.jobs import WAREHOUSE_CONCURRENCY_YAML
from tests.conftest import REPO_ROOT

SCALE_OUT = REPO_ROOT / "docs" / "scale-out"
CHECKED = {"dagster-k8s.yaml", "dagster-celery.yaml", "run-config-k8s.yaml",
           "run-config-celery.yaml", "mlflow-server.yaml", "lancedb.yaml", "profiles.yml",
           "accelerate-multi-gpu.yaml", "accelerate-deepspeed.yaml"}


def load(name: str) -> dict:
    return yaml.safe_load((SCALE_OUT / name).read_text())


def test_every_file_is_checked():
    assert {p.name for p in SCALE_OUT.iterdir()} == CHECKED


# ---------------------------------------------------------------------------------- Dagster
@pytest.mark.parametrize("name", ["dagster-k8s.yaml", "dagster-celery.yaml"])
def test_dagster_instance_passes_dagsters_schema(name, tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for var in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(var, "set-by-the-deployment")
    shutil.copy(SCALE_OUT / name, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))  # raises on any bad key
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"}  # a secret only by reference
    expected = yaml.safe_load(WAREHOUSE_CONCURRENCY_YAML)["concurrency"]["runs"]
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert limits == expected["tag_concurrency_limits"]


def test_k8s_run_launcher_shape():
    """dagster-k8s is not installed: Dagster checks only {module, class, config}; the keys
    are checked against K8sRunLauncher's documented config fields."""
    launcher = load("dagster-k8s.yaml")["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    known = {"job_namespace", "service_account_name", "job_image", "image_pull_policy",
             "image_pull_secrets", "instance_config_map", "postgres_password_secret",
             "env_config_maps", "env_secrets", "env_vars", "volume_mounts", "volumes",
             "labels", "resources", "run_k8s_config", "load_incluster_config",
             "kubeconfig_file", "dagster_home", "fail_pod_on_run_failure"}
    assert set(launcher["config"]) <= known


def test_default_run_launcher_loads():
    from dagster._serdes.config_class import ConfigurableClassData

    launcher = load("dagster-celery.yaml")["run_launcher"]
    data = ConfigurableClassData(launcher["module"], launcher["class"], "{}\n")
    assert type(data.rehydrate(object)).__name__ == "DefaultRunLauncher"


def test_executor_run_configs_shape():
    """dagster-k8s and dagster-celery are not installed: keys against their documented
    executor config fields."""
    k8s = load("run-config-k8s.yaml")["execution"]["config"]
    assert set(k8s) <= {"job_namespace", "max_concurrent", "retries", "tag_concurrency_limits",
                        "image_pull_policy", "image_pull_secrets", "service_account_name",
                        "env_config_maps", "env_secrets", "env_vars", "volume_mounts",
                        "volumes", "labels", "resources", "job_image", "step_k8s_config",
                        "per_step_k8s_config", "scheduler_name"}
    assert set(k8s["step_k8s_config"]) <= {"container_config", "pod_spec_config",
                                           "pod_template_spec_metadata", "job_spec_config",
                                           "job_metadata"}
    celery = load("run-config-celery.yaml")["execution"]["config"]
    assert set(celery) <= {"broker", "backend", "include", "config_source", "retries"}
    assert celery["broker"] == {"env": "KC_CELERY_BROKER_URL"}


# ----------------------------------------------------------------------------------- MLflow
def test_mlflow_server_command_parses_with_mlflows_own_cli():
    from mlflow.cli import server
    from mlflow.store.artifact.artifact_repository_registry import (
        _artifact_repository_registry,
    )
    from mlflow.utils.uri import extract_db_type_from_uri
    from sqlalchemy.engine import make_url

    spec = load("mlflow-server.yaml")
    command = spec["server"]["command"]
    assert command[:2] == ["mlflow", "server"]
    params = server.make_context("server", command[2:]).params  # rejects unknown flags
    assert extract_db_type_from_uri(params["backend_store_uri"]) == "postgresql"
    url = make_url(params["backend_store_uri"])
    assert (url.drivername, url.password) == ("postgresql+psycopg2", None)  # no secret inline
    assert urlparse(params["artifacts_destination"]).scheme in \
        _artifact_repository_registry._registry
    assert params["serve_artifacts"] is True and params["host"] == "0.0.0.0"
    assert urlparse(spec["client"]["MLFLOW_TRACKING_URI"]).scheme == "https"


# --------------------------------------------------------------------------------- LanceDB
def test_lancedb_uri_shape():
    """Structural only: lancedb.connect on s3:// asks the network for credentials at once."""
    spec = load("lancedb.yaml")
    uri = urlparse(spec["uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("s3", "kc-lancedb", "/index")
    assert set(spec["storage_options"]) <= {
        "region", "aws_region", "endpoint", "aws_endpoint", "allow_http", "timeout",
        "connect_timeout", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
        "virtual_hosted_style_request", "aws_server_side_encryption"}
    assert not {"aws_access_key_id", "aws_secret_access_key"} & set(spec["storage_options"])


# -------------------------------------------------------------------------------------- dbt
def test_dbt_profiles(monkeypatch):
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    for var in ("KC_PG_HOST", "KC_PG_USER", "KC_PG_PASSWORD"):
        monkeypatch.setenv(var, f"<{var}>")
    set_invocation_context(os.environ)
    profile = load("profiles.yml")["knowledge_compiler"]
    assert set(profile["outputs"]) == {"motherduck", "postgres"}
    rendered = {name: ProfileRenderer({}).render_data(target)
                for name, target in profile["outputs"].items()}
    # dbt-duckdb is installed: dbt builds the MotherDuck credentials itself.
    credentials = Profile._credentials_from_profile(rendered["motherduck"],
                                                    "knowledge_compiler", "motherduck")
    assert type(credentials).__name__ == "DuckDBCredentials"
    assert (credentials.path, credentials.database) == ("md:knowledge_compiler",
                                                        "knowledge_compiler")
    # dbt-postgres is not installed: its required fields, rendered from the environment.
    postgres = rendered["postgres"]
    assert {"type", "host", "user", "password", "port", "dbname", "schema"} <= set(postgres)
    assert (postgres["host"], postgres["password"]) == ("<KC_PG_HOST>", "<KC_PG_PASSWORD>")
    assert profile["outputs"]["postgres"]["password"].startswith("{{ env_var(")


# ------------------------------------------------------------------------------- accelerate
def launch_args(name: str):
    """What `accelerate launch --config_file <name> train.py` resolves, without launching."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", str(SCALE_OUT / name),
                                               "train.py"])
    return _validate_launch_command(args)


def test_accelerate_multi_gpu():
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.utils import DistributedType
    from accelerate.utils.launch import prepare_multi_gpu_env

    config = ClusterConfig.from_yaml_file(SCALE_OUT / "accelerate-multi-gpu.yaml")
    assert config.distributed_type == DistributedType.MULTI_GPU
    args, _, _ = launch_args("accelerate-multi-gpu.yaml")
    assert (args.multi_gpu, args.num_processes, args.num_machines) == (True, 4, 1)
    env = prepare_multi_gpu_env(args)
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"


def test_accelerate_deepspeed():
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser
    from accelerate.utils import DistributedType
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    config = ClusterConfig.from_yaml_file(SCALE_OUT / "accelerate-deepspeed.yaml")
    assert config.distributed_type == DistributedType.DEEPSPEED
    args, defaults, _ = launch_args("accelerate-deepspeed.yaml")
    assert (args.use_deepspeed, args.num_processes, args.num_machines) == (True, 8, 2)
    # Every deepspeed_config key must be an `accelerate launch` option, or it is dropped.
    known = {action.dest for action in launch_command_parser()._actions}
    assert set(defaults.deepspeed_config) <= known
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "2"
    assert env["ACCELERATE_GRADIENT_ACCUMULATION_STEPS"] == "4"
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
