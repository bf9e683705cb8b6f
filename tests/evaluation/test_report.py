"""The report: files written, text escaped, plots inline, and it renders in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from evaluation.report import count_plots, markdown_table, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROUTING = {"acme": {"static": 12, "volatile": 5, "overflow": 2}, "other": {"volatile": 3}}
CAPACITY = {"acme": {"budget_bits": 4000.0, "used_bits": 3100.0}}
CURVES = {"sft": [(10, 2.5), (20, 1.7), (30, 1.2)], "grpo": [(5, 0.9), (10, 0.7)]}


def _figures(em: float | None, **extra: Any) -> dict[str, Any]:
    return {"n": 4, "exact_match": em, "f1": em, "latency_p50_s": 0.2, "prompt_tokens": 30.0,
            "latency_p95_s": 0.3, **extra}


SUMMARY: dict[str, Any] = {
    "results": {
        "heldout_synthetic": {"base": _figures(0.25), "compiled": _figures(0.75),
                              "rag": _figures(0.5), "rag_ceiling": {
                                  "n": 4, "exact_match": 1.0, "f1": None,
                                  "latency_p50_s": None, "prompt_tokens": None},
                              "full_context": _figures(0.5, truncated_share=1.0)},
        "stale": {"compiled": _figures(0.5, stale_error_rate=0.25)},
    },
    "gain_recovery": {"heldout_synthetic": 0.5, "stale": None},
    "models": {"readers": {"base": "kc-base"}},
    "examples": {"heldout_synthetic": {"rag": [{
        "qid": "p1", "question": "Who owns <script>alert(1)</script>?", "gold": "Lena & co",
        "answer": "<b>lena</b>", "citations": [{"chunk_id": "c1", "source_id": "eng-docs",
                                                 "path": "a/<b>.md"}]}]}},
}


def test_report_files_and_escaping(tmp_path: Path) -> None:
    page = write_report(SUMMARY, tmp_path / "r", ROUTING, CAPACITY, CURVES)
    assert page.name == "index.html"
    assert {p.name for p in page.parent.iterdir()} == {"index.html", "summary.md",
                                                        "summary.json"}
    html = page.read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;lena&lt;/b&gt;" in html and "a/&lt;b&gt;.md" in html
    assert "http://" not in html and "https://" not in html
    images = re.findall(r'<img alt="plot" src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == count_plots(ROUTING, CAPACITY, CURVES) == 6
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    md = (page.parent / "summary.md").read_text()
    assert md == markdown_table(SUMMARY)
    assert "| compiled | 0.750 (F1 0.750, n=4) | 0.500 (F1 0.500, n=4) |" in md
    assert "| rag_ceiling | 1.000 (F1 -, n=4) | - |" in md


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: "
                    "apt-get install -y chromium to run the headless rendering check")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_report(SUMMARY, tmp_path / "r", ROUTING, None, CURVES)
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
             page.resolve().as_uri()], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert dom.count("<img") == count_plots(ROUTING, None, CURVES) == 5
    assert "Stale facts" in dom and "Example answers" in dom
    problems = [line for line in done.stderr.splitlines()
                if "CONSOLE" in line or "Uncaught" in line]
    assert problems == []
