"""The installed environment: imports that must work, and the pipeline with the network off."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import OFFLINE_TOOL, REPO_ROOT

BIN = Path(sys.executable).parent


def _offline_available() -> bool:
    if not OFFLINE_TOOL.exists() or shutil.which("unshare") is None:
        return False
    probe = subprocess.run([str(OFFLINE_TOOL), "true"], capture_output=True, check=False)
    return probe.returncode == 0


needs_offline = pytest.mark.skipif(not _offline_available(),
                                   reason="../shared/tools/offline (unshare --net) unavailable")


def test_trl_and_peft_import_beside_cpu_torch():
    """A CUDA torchvision beside the CPU torch breaks these imports ('torchvision::nms')."""
    assert importlib.util.find_spec("torchvision") is None
    result = subprocess.run([sys.executable, "-c", "import trl, peft, torch; "
                             "print(torch.__version__)"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("2.13.0")


@needs_offline
def test_doctor_parses_every_format_with_the_network_off():
    result = subprocess.run([str(OFFLINE_TOOL), str(BIN / "kc"), "doctor"], capture_output=True,
                            text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "md=" in result.stdout and "pdf=" in result.stdout and "docx=" in result.stdout


@needs_offline
def test_kc_run_with_the_network_off(tmp_path, small_repo):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "policy.md").write_text("# Policy\n\nThe hotel limit is 180 EUR per night.\n")
    (docs / "notes.html").write_text("<h1>Notes</h1><p>The office opens at 9.</p>")
    config = tmp_path / "kc.yaml"
    config.write_text(f"""
home: {tmp_path / "home"}
sources:
  - {{name: docs, type: documents, path: {docs}, tenant: eng, acl_groups: [eng]}}
  - {{name: repo, type: git, path: {small_repo}, tenant: eng, acl_groups: [eng]}}
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "DAGSTER_"))}
    # Refresh only (ingest, dbt, index): the compile stage's offline training has its own tests.
    result = subprocess.run([str(OFFLINE_TOOL), str(BIN / "kc"), "--config", str(config), "run",
                             "--refresh-only", "--log-level", "WARNING"], capture_output=True,
                            text=True,
                            check=False, timeout=600, cwd=REPO_ROOT, env=env)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "kc run: done" in result.stdout
    assert "ingest failures: none" in result.stdout
