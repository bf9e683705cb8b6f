"""`kc ui`: both servers start, answer over HTTP, and stop without leaving a process behind."""

import io
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml

from knowledge_compiler import ui
from knowledge_compiler.runtime import prepare
from knowledge_compiler.ui import WORKSPACE, UiError, start_ui, stop_ui


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, body: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        return response.read()


def workspace_for_test(tmp_path: Path) -> Path:
    """The repository's workspace.yaml, with the Definitions attribute named explicitly: the
    module holds more than one Definitions object at top level (the per-domain ones it
    imports), which Dagster refuses to choose between."""
    workspace = yaml.safe_load(WORKSPACE.read_text())
    for entry in workspace["load_from"]:
        entry["python_module"].setdefault("attribute", "defs")
    path = tmp_path / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace))
    return path


def pgid_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


@pytest.fixture
def settings(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.md").write_text("# Handbook\n\nLaptops on day one.\n")
    config = tmp_path / "kc.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\nsources:\n"
                      f"  - {{name: docs, type: documents, path: {docs}, tenant: eng, "
                      "acl_groups: [eng]}\n")
    monkeypatch.delenv("KC_HOME", raising=False)  # it would override `home:`
    for key in ("KC_CONFIG", "KC_WAREHOUSE", "DAGSTER_HOME"):
        monkeypatch.setenv(key, "")  # prepare() exports these: restore them afterwards
    settings = prepare(config)
    monkeypatch.delenv("KC_HOME")
    return settings


@pytest.mark.slow  # 60-90 s on two cores: Dagster's code server imports the whole stack
def test_ui_starts_answers_and_stops_clean(settings, tmp_path, record_property):
    started = time.monotonic()
    ui = start_ui(settings, dagster_port=free_port(), mlflow_port=free_port(),
                  workspace=workspace_for_test(tmp_path))
    record_property("start_s", round(time.monotonic() - started, 1))
    try:
        assert ui.location_errors == []
        graph = json.loads(fetch(ui.dagster.url + "/graphql",
                                 {"query": "{ assetNodes { assetKey { path } } }"}))
        keys = {tuple(n["assetKey"]["path"]) for n in graph["data"]["assetNodes"]}
        assert ("raw", "chunks") in keys and ("marts", "document_routes") in keys
        assert fetch(ui.mlflow.url + "/health") == b"OK"
        experiments = json.loads(fetch(
            ui.mlflow.url + "/api/2.0/mlflow/experiments/search?max_results=10"))
        assert [e["name"] for e in experiments["experiments"]] == ["Default"]
        assert (settings.kc_home / "mlflow.db").exists()
        processes = {s.name: [s.process.pid, *(c.pid for c in psutil.Process(
            s.process.pid).children(recursive=True))] for s in ui}
        assert len(processes["dagster"]) >= 4  # dev, code server, webserver, daemon
    finally:
        stopping = time.monotonic()
        how = stop_ui(ui)
        record_property("stop_s", round(time.monotonic() - stopping, 1))
    assert how == {"dagster": "SIGINT", "mlflow": "SIGINT"}  # clean, without escalation
    for server in ui:
        assert pgid_members(server.pgid) == [], server.name
        survivors = [p for p in processes[server.name] if psutil.pid_exists(p)
                     and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], server.name


def test_busy_port_is_refused_before_anything_starts(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(UiError, match=rf"cannot start MLflow on 127.0.0.1:{port}"):
            start_ui(settings, dagster_port=free_port(), mlflow_port=port)
    assert not (settings.kc_home / "logs" / "ui-dagster.log").exists()


# ------------------------------------------------------------------ stopping, without servers
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
escaped = subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); "
                            "print('left the group', flush=True); time.sleep(120)"],
                           stdout=subprocess.PIPE)
escaped.stdout.readline()
print(child.pid, escaped.pid, flush=True)
time.sleep(120)
"""


def spawn(tmp_path: Path, name: str, code: str) -> ui.Server:
    return ui._spawn(name, [sys.executable, "-c", code], dict(os.environ),
                     tmp_path / f"{name}.log", url="http://127.0.0.1:9", ready_path="/")


def wait_for_line(path: Path, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text()
        if text.endswith("\n"):
            return text
        time.sleep(0.05)
    raise AssertionError(f"{path} stayed empty")


def test_stop_escalates_to_sigkill_and_reaches_escaped_children(tmp_path):
    server = spawn(tmp_path, "stubborn", STUBBORN)
    child, escaped = (int(p) for p in wait_for_line(server.log_path).split())
    assert os.getpgid(child) == server.pgid and os.getpgid(escaped) != server.pgid
    assert ui.stop_ui([server], grace_s=0.5, term_s=0.5) == {"stubborn": "SIGKILL"}
    assert pgid_members(server.pgid) == []
    assert not psutil.pid_exists(escaped) or psutil.Process(escaped).status() == "zombie"


def test_sigint_reaches_a_server_started_from_a_background_job(tmp_path):
    """A shell's background job hands SIGINT down ignored; the server must get it back."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = spawn(tmp_path, "polite", "import time; print('up', flush=True); time.sleep(60)")
    finally:
        signal.signal(signal.SIGINT, previous)
    wait_for_line(server.log_path)
    started = time.monotonic()
    assert ui.stop_ui([server]) == {"polite": "SIGINT"}
    assert time.monotonic() - started < 5


def test_run_ui_forever_stops_both_when_one_exits(tmp_path, monkeypatch, settings):
    servers = [spawn(tmp_path, "dagster", "import time; time.sleep(1.5)"),
               spawn(tmp_path, "mlflow", "import time; time.sleep(60)")]
    monkeypatch.setattr(ui, "start_ui", lambda *args, **kwargs: ui.UiProcesses(*servers))
    out = io.StringIO()
    assert ui.run_ui_forever(settings.config_path, out=out) == 1
    text = out.getvalue()
    assert "dagster exited with code 0" in text and text.endswith("kc ui: stopped\n")
    assert all(pgid_members(s.pgid) == [] for s in servers)


def test_run_ui_forever_stops_both_on_sigterm(tmp_path, monkeypatch, settings):
    servers = [spawn(tmp_path, name, "import time; time.sleep(60)")
               for name in ("dagster", "mlflow")]
    monkeypatch.setattr(ui, "start_ui", lambda *args, **kwargs: ui.UiProcesses(*servers))
    before = signal.getsignal(signal.SIGTERM)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    out = io.StringIO()
    assert ui.run_ui_forever(settings.config_path, out=out) == 0
    assert "stopping both servers" in out.getvalue()
    assert all(pgid_members(s.pgid) == [] for s in servers)
    assert signal.getsignal(signal.SIGTERM) == before  # restored


def test_run_ui_forever_reports_a_server_that_does_not_start(monkeypatch, settings):
    def fail(*args, **kwargs):
        raise UiError("dagster exited with code 1 while starting; ui-dagster.log ends with: x")

    monkeypatch.setattr(ui, "start_ui", fail)
    out = io.StringIO()
    assert ui.run_ui_forever(settings.config_path, out=out) == 1
    assert out.getvalue().endswith("kc ui: dagster exited with code 1 while starting; "
                                   "ui-dagster.log ends with: x\n")


def test_run_ui_forever_stops_on_sigint_when_started_with_it_ignored(tmp_path, monkeypatch,
                                                                      settings):
    """`kc ui &` inherits SIGINT ignored from the shell; Ctrl-C (after `fg`) must still stop it."""
    servers = [spawn(tmp_path, name, "import time; time.sleep(60)")
               for name in ("dagster", "mlflow")]
    monkeypatch.setattr(ui, "start_ui", lambda *args, **kwargs: ui.UiProcesses(*servers))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        out = io.StringIO()
        assert ui.run_ui_forever(settings.config_path, out=out) == 0
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # restored
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "stopping both servers" in out.getvalue()
    assert all(pgid_members(s.pgid) == [] for s in servers)
