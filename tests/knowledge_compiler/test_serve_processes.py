"""Serving from separate processes (slow: each starts a Python with torch and MLflow):

- `mlflow models serve -m models:/kc-<tenant>@champion --env-manager local` answers a
  DataFrame of questions offline, as the registered pyfunc does in-process;
- `kc serve` from a kc.yaml resolves the champions from the registry, and `kill -HUP`
  makes it serve a newly promoted version without a restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import yaml

from tests.knowledge_compiler.test_serve import (
    ALICE_KEY,
    ANSWER_TOKENS,
    QUESTIONS,
    TENANTS,
    _chunks,
    build_world,
    make_adapter,
    register_adapter,
)
from training import registry

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tracking_uri: str | None = None, **extra: str) -> dict[str, str]:
    # mlflow starts `uvicorn` by name: the environment's bin folder must be on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **extra}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = env["MLFLOW_REGISTRY_URI"] = tracking_uri
    return env


def _wait_http(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = process.stderr.read().decode()[-3000:] if process.stderr else ""
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_world(tmp_path_factory.mktemp("serve-processes"))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    tracking = registry.Tracking.local(tmp_path / "kc")
    tracking.activate()
    yield tracking
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")


def test_mlflow_models_serve_answers_a_dataframe(world: dict, store: Any) -> None:
    from training.generate import answer
    from training.loading import load_adapter

    register_adapter(world["adapters"]["acme"], world["base"], "acme")
    port = _free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
         "models:/kc-acme@champion", "--env-manager", "local", "--host", "127.0.0.1",
         "-p", str(port), "--workers", "1"],
        env=_env(store.tracking_uri), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_http(f"http://127.0.0.1:{port}/ping", process)
        response = httpx.post(f"http://127.0.0.1:{port}/invocations", timeout=60, json={
            "dataframe_split": {"columns": ["question"], "data": [[q] for q in QUESTIONS]}})
    finally:
        _stop(process)
    assert response.status_code == 200, response.text
    got = [row["answer"] for row in response.json()["predictions"]]
    model, tok = load_adapter(world["base"], world["adapters"]["acme"])
    assert got == answer(model, tok, QUESTIONS, max_new_tokens=ANSWER_TOKENS)


def test_kc_serve_from_config_reloads_on_sighup(world: dict, tmp_path: Path) -> None:
    from retrieval import ChunkIndex, HashingEmbedder

    home = tmp_path / "home"
    tracking = registry.Tracking.local(home)
    tracking.activate()
    try:
        for tenant in TENANTS:
            register_adapter(world["adapters"][tenant], world["base"], tenant)
        newer = make_adapter(world["base"], tmp_path / "acme-v2", seed=11)
        register_adapter(newer, world["base"], "acme")
        ChunkIndex(home / "lancedb", embedder=HashingEmbedder(dim=64)).sync(_chunks())
        port = _free_port()
        config = tmp_path / "kc.yaml"
        config.write_text(yaml.safe_dump({
            "home": str(home), "model": {"base": str(world["base"])},
            "sources": [{"name": f"{t}-docs", "type": "documents", "path": f"/nonexistent/{t}",
                         "tenant": t, "acl_groups": [t]} for t in TENANTS],
            "users": {"alice": {"groups": ["acme"]}},
            "serve": {"port": port, "api_keys": {"alice": {"key_env": "KC_ALICE_KEY"}},
                      "max_new_tokens": ANSWER_TOKENS}}))
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "kc"), "--config", str(config), "serve"],
            env=_env(KC_ALICE_KEY=ALICE_KEY, KC_EMBEDDER="hashing", KC_HOME=str(home)),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {ALICE_KEY}"}

        def version() -> str:
            reply = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=30, json={
                "model": "kc-acme:rag", "messages": [{"role": "user", "content": QUESTIONS[1]}]})
            assert reply.status_code == 200, reply.text
            cited = {c["source"] for c in reply.json()["kc"]["citations"]}
            assert cited == {"acme-docs"}
            return reply.json()["kc"]["adapter_version"]

        try:
            _wait_http(f"{url}/health", process)
            models = httpx.get(f"{url}/v1/models", headers=headers, timeout=10).json()
            assert sorted(m["id"] for m in models["data"]) == [
                "kc-acme", "kc-acme:compiled", "kc-acme:rag"]
            assert version() == "1"
            registry.promote("kc-acme", "2", reason="test")
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while version() != "2":
                assert time.monotonic() < deadline, "SIGHUP did not reload the champion"
                time.sleep(0.5)
        finally:
            _stop(process)
        log = process.stderr.read().decode()
        assert '"user": "alice"' in log and QUESTIONS[1] not in log
    finally:
        mlflow.set_tracking_uri("")
        mlflow.set_registry_uri("")
