"""`kc ui`: the Dagster UI (with its daemon, so schedules and sensors run) and the MLflow UI.

Each server is started in its own process group with SIGINT and SIGTERM at their defaults,
and stopped as a group: SIGINT (a clean shutdown, as Ctrl-C in a terminal would give it),
then SIGTERM, then SIGKILL, each after a grace period. Measured on this machine, the obvious
ways leave processes behind: ``dagster dev`` started with ``&`` ignores SIGINT and SIGTERM
(a background job inherits them ignored) and SIGKILL of it orphans its four children;
``mlflow server`` given SIGINT on its own pid left seven workers running.

``dagster dev`` rather than ``dagster-webserver`` + ``dagster-daemon``: one process tree that
shares one code server between the UI and the daemon (two separate processes would each load
the definitions, the dbt manifest included) and that shuts its children down on SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

import psutil

from settings.config import Settings
from settings.offline import OFFLINE_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = REPO_ROOT / "workspace.yaml"
BIN = Path(sys.executable).parent  # the dagster and mlflow installed beside this interpreter
START_TIMEOUT_S = 240.0  # the Dagster code server imports the whole stack: slow on two cores


class UiError(RuntimeError):
    """A server did not start; the message names it, its log and the log's last lines."""


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    ready_url: str
    log_path: Path
    log: IO[bytes]

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the leader's pid is the group id


@dataclass
class UiProcesses:
    dagster: Server
    mlflow: Server
    # Code locations Dagster could not load (the UI still runs, showing the error; fix the
    # code and press "Reload" there): "location: message".
    location_errors: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Server]:
        yield self.dagster
        yield self.mlflow


def ui_env(settings: Settings) -> dict[str, str]:
    """The servers' environment: what `knowledge_compiler.runtime.prepare` exports, derived
    from ``settings`` so that it holds even when this process did not call prepare."""
    env = {**OFFLINE_ENV, **os.environ}  # the user's explicit settings win, as in prepare
    env.update({
        "KC_HOME": str(settings.kc_home),
        "KC_CONFIG": str(settings.config_path),
        "KC_WAREHOUSE": str(settings.warehouse_path),
        "DAGSTER_HOME": str(settings.dagster_home),
        "PATH": os.pathsep.join([str(BIN), env.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(p for p in [str(REPO_ROOT), env.get("PYTHONPATH")] if p),
    })
    # MLflow's job runner (GenAI jobs: prompt optimization, online scoring) adds eight
    # processes that nothing here uses.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


def dagster_command(host: str, port: int, workspace: Path = WORKSPACE) -> list[str]:
    return [str(BIN / "dagster"), "dev", "-w", str(workspace), "-h", host, "-p", str(port)]


def mlflow_command(kc_home: Path, host: str, port: int) -> list[str]:
    artifacts = (kc_home / "mlartifacts").as_uri()  # as training.registry writes them
    return [str(BIN / "mlflow"), "server",
            "--backend-store-uri", f"sqlite:///{kc_home / 'mlflow.db'}",
            "--default-artifact-root", artifacts, "--artifacts-destination", artifacts,
            "--host", host, "--port", str(port), "--workers", "1"]


def start_ui(settings: Settings, dagster_port: int = 3000, mlflow_port: int = 5000,
             host: str = "127.0.0.1", timeout_s: float = START_TIMEOUT_S,
             workspace: Path = WORKSPACE) -> UiProcesses:
    """Start both servers and return once both answer HTTP and Dagster has loaded its code
    locations (or failed to: see ``location_errors``); if a server exits or does not answer
    in time, stop both and raise UiError. Call ``knowledge_compiler.runtime.prepare`` first
    (it writes dagster.yaml)."""
    for name, port in (("Dagster", dagster_port), ("MLflow", mlflow_port)):
        _check_port_free(name, host, port)
    home = settings.kc_home
    (home / "logs").mkdir(parents=True, exist_ok=True)
    (home / "mlartifacts").mkdir(parents=True, exist_ok=True)
    env = ui_env(settings)
    probe = _probe_host(host)
    started: list[Server] = []
    try:
        started.append(_spawn("dagster", dagster_command(host, dagster_port, workspace), env,
                              home / "logs" / "ui-dagster.log",
                              url=f"http://{probe}:{dagster_port}",
                              ready_path="/server_info"))
        started.append(_spawn("mlflow", mlflow_command(home, host, mlflow_port), env,
                              home / "logs" / "ui-mlflow.log",
                              url=f"http://{probe}:{mlflow_port}", ready_path="/health"))
        deadline = time.monotonic() + timeout_s
        _wait_ready(started, deadline)
        errors = _wait_locations_loaded(started[0], deadline)
    except BaseException:
        stop_ui(started)
        raise
    return UiProcesses(*started, location_errors=errors)


def stop_ui(processes: UiProcesses | list[Server], grace_s: float = 20.0,
            term_s: float = 10.0) -> dict[str, str]:
    """Stop every process of both servers: SIGINT to each group, then SIGTERM, then SIGKILL,
    each after a wait. Returns, per server, the signal that ended it (or "exited")."""
    servers = list(processes)
    # Descendants that left the group (setsid) are signalled by pid, not forgotten.
    tracked = {s.name: _tree(s.process.pid) for s in servers}
    how = {s.name: "exited" for s in servers if not _alive(s, tracked[s.name])}
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, term_s),
                        (signal.SIGKILL, 10.0)):
        alive = [s for s in servers if s.name not in how]
        for server in alive:
            _signal_all(server, tracked[server.name], sig, group_only=sig == signal.SIGINT)
        deadline = time.monotonic() + wait_s
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [s for s in alive if _alive(s, tracked[s.name])]
        for server in servers:
            if server.name not in how and server not in alive:
                how[server.name] = sig.name
    for server in servers:
        server.process.wait(timeout=10)
        server.log.close()
    return how


def run_ui_forever(config: str | Path, dagster_port: int = 3000, mlflow_port: int = 5000,
                   host: str = "127.0.0.1", out: TextIO = sys.stdout) -> int:
    """`kc ui`: start both servers, print their addresses, stop both on Ctrl-C or SIGTERM.
    Returns 0 after Ctrl-C or SIGTERM; 1 when a server does not start or exits on its own (the
    message names its log); 130 when interrupted while starting."""
    # A shell starts a background job (`kc ui &`) with SIGINT ignored, and Python keeps an
    # ignored SIGINT: the children got it back, but this process sat through Ctrl-C (after
    # `fg`) and `kill -INT`. Ctrl-C must stop kc ui however it was started.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run_ui(config, dagster_port, mlflow_port, host, out)
    finally:
        signal.signal(signal.SIGINT, previous_int)


def _run_ui(config: str | Path, dagster_port: int, mlflow_port: int, host: str,
            out: TextIO) -> int:
    from knowledge_compiler.runtime import prepare

    settings = prepare(config)
    out.write(f"kc ui: starting Dagster and MLflow (logs in {settings.kc_home / 'logs'}) ...\n")
    out.flush()
    started = time.monotonic()
    try:
        processes = start_ui(settings, dagster_port, mlflow_port, host)
    except UiError as exc:
        out.write(f"kc ui: {exc}\n")
        return 1
    except KeyboardInterrupt:  # start_ui stopped whatever it had started
        out.write("kc ui: interrupted while starting; stopped\n")
        return 130
    out.write(f"kc ui: ready in {time.monotonic() - started:.0f} s\n"
              f"  Dagster  {processes.dagster.url}\n  MLflow   {processes.mlflow.url}\n"
              "Ctrl-C stops both.\n")
    for error in processes.location_errors:
        out.write(f"kc ui: Dagster could not load the code location {error}\n")
    out.flush()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    status = 0
    try:
        while status == 0:
            for server in processes:
                if server.process.poll() is not None:
                    out.write(f"kc ui: {server.name} exited with code "
                              f"{server.process.returncode}; see {server.log_path}\n")
                    status = 1
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish stopping first
        try:
            out.write("kc ui: stopping both servers ...\n")
            out.flush()
            stop_ui(processes)
        finally:
            signal.signal(signal.SIGINT, previous_int)
    out.write("kc ui: stopped\n")
    return status


# ---------------------------------------------------------------------------------- helpers
def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _default_signals() -> None:
    """In the child, before exec: a background parent hands SIGINT down ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _spawn(name: str, command: list[str], env: dict[str, str], log_path: Path, *, url: str,
           ready_path: str) -> Server:
    log = log_path.open("wb")
    try:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_default_signals)
    except BaseException:
        log.close()
        raise
    return Server(name, process, url, url + ready_path, log_path, log)


def _wait_ready(servers: list[Server], deadline: float) -> None:
    waiting = list(servers)
    while waiting:
        for server in list(waiting):
            _check_running(server)
            if _answers(server.ready_url):
                waiting.remove(server)
        if waiting:
            _check_deadline(waiting, deadline)
            time.sleep(0.5)


_LOCATIONS_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _wait_locations_loaded(dagster: Server, deadline: float) -> list[str]:
    """The webserver answers before its code server has loaded the definitions: wait."""
    while True:
        _check_running(dagster)
        request = urllib.request.Request(
            dagster.url + "/graphql", data=json.dumps({"query": _LOCATIONS_QUERY}).encode(),
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                workspace = (json.load(response).get("data") or {}).get("workspaceOrError")
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            workspace = None  # still starting: ask again
        entries = (workspace or {}).get("locationEntries")
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            return [f"{e['name']}: {e['locationOrLoadError']['message'].strip()}"
                    for e in entries
                    if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
        _check_deadline([dagster], deadline)
        time.sleep(0.5)


def _check_running(server: Server) -> None:
    if server.process.poll() is not None:
        raise UiError(f"{server.name} exited with code {server.process.returncode} "
                      f"while starting; {_log_tail(server)}")


def _check_deadline(waiting: list[Server], deadline: float) -> None:
    if time.monotonic() > deadline:
        names = ", ".join(s.name for s in waiting)
        raise UiError(f"{names} not ready in time; " + "; ".join(_log_tail(s) for s in waiting))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _log_tail(server: Server, lines: int = 15) -> str:
    server.log.flush()
    text = server.log_path.read_text(errors="replace").splitlines()[-lines:]
    return f"{server.log_path} ends with:\n" + "\n".join(text)


def _probe_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)


def _check_port_free(name: str, host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UiError(f"cannot start {name} on {host}:{port}: {exc.strerror}; another "
                          "server holds the port (choose another port)") from exc


def _tree(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _group(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _alive(server: Server, tracked: list[psutil.Process]) -> bool:
    server.process.poll()  # reap the leader, so that it does not linger as a zombie
    return bool(_group(server.pgid)) or any(_running(p) for p in tracked)


def _signal_all(server: Server, tracked: list[psutil.Process], sig: signal.Signals, *,
                group_only: bool) -> None:
    try:
        os.killpg(server.pgid, sig)
    except ProcessLookupError:
        pass
    if group_only:
        return
    for proc in tracked:
        if _running(proc):
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
