"""Regenerate the README pictures from a finished run (regenerated, never drawn by hand):

- `docs/images/report.png`: the first screen of the newest evaluation report, redrawn with the
  current report code from that report's `summary.json`;
- `docs/images/asset-graph.png`: the Dagster asset graph, from a `dagster-webserver` started on
  a free port for the picture and stopped after it.

    .venv/bin/python scripts/screenshots.py [--kc-home PATH] [--tenant NAME] [--out DIR]
    make screenshots                # KC_HOME=... to picture another run

`--kc-home` defaults to `$KC_HOME`, else `.kc` (where `make demo` runs). The run is only read:
its warehouse, MLflow database and Dagster home are copied to a temporary folder first. The
report's promotion (candidate, previous champion, the gate's reason) is taken from the copied
MLflow registry when the summary does not record it (reports written before it did). Needs
headless Chromium (`chromium` on PATH, or `--chromium`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluation.report import (  # noqa: E402
    add_chunk_texts,
    cited_chunk_ids,
    warehouse_chunk_texts,
    write_report,
)

log = logging.getLogger("screenshots")

BIN = Path(sys.executable).parent
DEMO_CONFIG = REPO / "examples" / "northwind" / "kc.yaml"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")
OFFLINE = {"DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "DAGSTER_DISABLE_TELEMETRY": "true"}
WEBSERVER_TIMEOUT_S = 300.0  # the code location imports the whole stack: slow on two cores


def newest_report(kc_home: Path, tenant: str | None) -> Path:
    reports = sorted(p for p in (kc_home / "reports").glob("*-*")
                     if (p / "summary.json").is_file()
                     and (tenant is None or p.name.endswith(f"-{tenant}")))
    if not reports:
        raise SystemExit(f"no evaluation report under {kc_home / 'reports'}"
                         + (f" for tenant {tenant}" if tenant else "")
                         + ": run `make demo` (or `kc run`) first, or pass --kc-home")
    return reports[-1]


def registry_promotion(mlflow_db: Path, tenant: str) -> dict[str, Any] | None:
    """The candidate (newest version of kc-<tenant>), whether it holds `@champion`, the reason
    recorded when it was promoted."""
    from mlflow import MlflowClient

    from training import registry

    client = MlflowClient(tracking_uri=f"sqlite:///{mlflow_db}")
    name = registry.registered_name(tenant)
    versions = sorted(client.search_model_versions(f"name = '{name}'"),
                      key=lambda v: int(v.version))
    if not versions:
        return None
    candidate = versions[-1]
    try:
        champion = client.get_model_version_by_alias(name, registry.CHAMPION).version
    except Exception:  # no alias set: nothing was ever promoted
        champion = None
    # Which version held the alias before is not kept by the registry.
    before = "not recorded" if len(versions) > 1 else None
    promoted = str(champion) == str(candidate.version)
    return {"model": name, "candidate_version": str(candidate.version),
            "champion_before": before, "promoted": promoted,
            "reason": candidate.tags.get("promotion_reason")
            or ("not recorded" if promoted else f"v{champion} holds @champion")}


def render_report(kc_home: Path, tenant: str | None, work: Path) -> Path:
    """The newest report redrawn into `work/report` with its routing, capacity, cited chunk
    texts and promotion filled in from (copies of) the run's stores."""
    import duckdb

    from evaluation.tenant import routing_and_capacity

    source = newest_report(kc_home, tenant)
    summary = json.loads((source / "summary.json").read_text())
    tenant = (summary.get("models") or {}).get("tenant") or source.name.split("-", 1)[1]
    if "evaluated_at" not in summary:  # the folder is named <UTC stamp>-<tenant>
        stamp = source.name.split("-", 1)[0]
        summary["evaluated_at"] = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    shutil.copy2(kc_home / "warehouse.duckdb", work / "warehouse.duckdb")
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        routing, capacity = routing_and_capacity(con)
        add_chunk_texts(summary, warehouse_chunk_texts(con, cited_chunk_ids(summary)))
    if "promotion" not in summary and (kc_home / "mlflow.db").is_file():
        shutil.copy2(kc_home / "mlflow.db", work / "mlflow.db")
        promotion = registry_promotion(work / "mlflow.db", tenant)
        if promotion:
            summary["promotion"] = promotion
    return write_report(summary, work / "report", summary.get("routing") or routing,
                        summary.get("capacity_budget") or capacity)


def save_small(png: Path, out: Path, max_bytes: int = 300_000) -> None:
    """Quantise to a palette (screenshots are mostly flat colours) until under `max_bytes`."""
    from PIL import Image

    image = Image.open(png).convert("RGB")
    for colours in (256, 128, 64):
        buffer = io.BytesIO()
        image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(
            buffer, "PNG", optimize=True)
        if buffer.tell() <= max_bytes:
            break
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    log.info("wrote %s (%.0f kB)", out, buffer.tell() / 1000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/graphql", json.dumps({"query": query}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus " \
            "locationOrLoadError { __typename ... on PythonError { message } } } } } }"


def wait_loaded(url: str, server: subprocess.Popen, log_path: Path) -> None:
    """Until the webserver answers and every code location has loaded."""
    deadline = time.monotonic() + WEBSERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("dagster-webserver exited; the end of its log:\n"
                             + log_path.read_text()[-2000:])
        try:
            entries = _graphql(url, LOCATIONS)["data"]["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, KeyError, TypeError, OSError):
            entries = []
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e["locationOrLoadError"].get("message", "") for e in entries
                      if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise SystemExit("the Dagster code location failed to load:\n" + errors[0])
            return
        time.sleep(2)
    raise SystemExit(f"dagster-webserver did not load its code in {WEBSERVER_TIMEOUT_S:.0f} s "
                     f"(log: {log_path})")


def stop(server: subprocess.Popen) -> None:
    """SIGINT to the server's process group, then SIGTERM, then SIGKILL."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


def _devtools_page(port: int, deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [p for p in json.load(r) if p.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit("headless Chromium did not open its DevTools port")


class DevTools:
    """The few Chrome DevTools Protocol calls a picture of a JavaScript app needs."""

    def __init__(self, socket_url: str) -> None:
        from websockets.sync.client import connect

        self.socket = connect(socket_url, max_size=64 * 2**20, legacy=True)
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"Chromium: {method} failed: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise SystemExit(f"the page never satisfied {expression!r}")
            time.sleep(1)


@contextlib.contextmanager
def browser_page(chromium: str, profile: Path, size: tuple[int, int]) -> Iterator[DevTools]:
    """A headless Chromium page of `size` pixels, driven over the DevTools protocol."""
    port = free_port()
    browser = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         f"--remote-debugging-port={port}", f"--window-size={size[0]},{size[1]}",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        page = DevTools(_devtools_page(port, time.monotonic() + 60))
        page.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1],
                  deviceScaleFactor=1, mobile=False)
        yield page
    finally:
        stop(browser)


def report_screenshot(chromium: str, page_path: Path, work: Path, out: Path) -> None:
    """The report's first screen, once every inline chart is decoded (a plain --screenshot
    can catch a chart half painted)."""
    with browser_page(chromium, work / "chromium-report", (1280, 900)) as page:
        page.call("Page.navigate", url=page_path.as_uri())
        page.wait_for("document.readyState === 'complete'", 60)
        page.call("Runtime.evaluate", awaitPromise=True, expression=(
            "Promise.all(Array.from(document.images).map(i => i.decode()))"))
        time.sleep(1)
        shot = page.call("Page.captureScreenshot", format="png")
    raw = work / "report-raw.png"
    raw.write_bytes(base64.b64decode(shot["data"]))
    save_small(raw, out)


# The nodes (assets, or collapsed groups) of Dagster's graph: SVG foreignObjects.
ASSET_NODES = "document.querySelectorAll('svg foreignObject').length"


def asset_graph(kc_home: Path, chromium: str, work: Path, out: Path) -> None:
    """Start dagster-webserver on a copy of the run's Dagster home, picture the global asset
    lineage with every group expanded, stop the server."""
    dagster_home = work / "dagster_home"
    shutil.copytree(kc_home / "dagster_home", dagster_home)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **OFFLINE, "KC_HOME": str(kc_home), "DAGSTER_HOME": str(dagster_home),
           "KC_CONFIG": os.environ.get("KC_CONFIG", str(DEMO_CONFIG)),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                         if p)}
    log_path = work / "dagster-webserver.log"
    with log_path.open("wb") as sink:
        server = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", str(REPO / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        log.info("dagster-webserver on %s, loading the code location ...", url)
        wait_loaded(url, server, log_path)
        _graphql(url, "mutation { setNuxSeen }")  # no "join the community" dialog on top
        with browser_page(chromium, work / "chromium-graph", (1600, 1000)) as page:
            page.call("Page.navigate", url=f"{url}/asset-groups")
            page.wait_for(ASSET_NODES + " > 0", 120)
            groups = page.evaluate(ASSET_NODES)
            for key in ("keyDown", "keyUp"):  # Alt+E: expand every group
                page.call("Input.dispatchKeyEvent", type=key, modifiers=1, key="e",
                          code="KeyE", windowsVirtualKeyCode=69)
            page.wait_for(f"{ASSET_NODES} > {groups}", 60)
            time.sleep(3)  # the layout settles and the graph zooms to fit
            shot = page.call("Page.captureScreenshot", format="png")
        raw = work / "asset-graph-raw.png"
        raw.write_bytes(base64.b64decode(shot["data"]))
        save_small(raw, out)
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kc-home", type=Path,
                        default=Path(os.environ.get("KC_HOME") or REPO / ".kc"))
    parser.add_argument("--tenant", help="whose report to picture (default: the newest)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--chromium", default=shutil.which("chromium")
                        or shutil.which("chromium-browser"))
    parser.add_argument("--only", choices=("report", "asset-graph"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.chromium:
        raise SystemExit("headless Chromium is needed: install chromium or pass --chromium")
    kc_home = args.kc_home.resolve()
    with tempfile.TemporaryDirectory(prefix="kc-screenshots-") as tmp:
        work = Path(tmp)
        if args.only in (None, "report"):
            page = render_report(kc_home, args.tenant, work)
            report_screenshot(args.chromium, page, work, args.out / "report.png")
        if args.only in (None, "asset-graph"):
            asset_graph(kc_home, args.chromium, work, args.out / "asset-graph.png")


if __name__ == "__main__":
    main()
