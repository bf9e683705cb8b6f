"""The report: files written, text escaped, plots inline, a first screen with heading, verdict
and glossary, and it renders in headless Chromium without raw markdown."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from evaluation.report import (
    ARM_COLOURS,
    add_chunk_texts,
    arm_colour,
    cited_chunk_ids,
    count_plots,
    markdown_table,
    readable,
    render_html,
    update_report,
    write_report,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROUTING = {"acme": {"static": 12, "volatile": 5, "overflow": 2}, "other": {"volatile": 3}}
CAPACITY = {"acme": {"budget_bits": 4000.0, "used_bits": 3100.0}}
CURVES = {"sft": [(10, 2.5), (20, 1.7), (30, 1.2)], "grpo": [(5, 0.9), (10, 0.7)]}
PROMOTED = {"model": "kc-acme", "candidate_version": "3", "champion_before": "2",
            "promoted": True, "reason": "at least as accurate as the champion on "
                                        "heldout_synthetic"}
LEARNING_CURVE = [
    {"method": m, "tokens_per_source_token": t, "synthetic_tokens": int(t * 12_000),
     "handwritten_static": em, "wall_s": 3.0 * t}
    for m, points in (("sft", ((1.0, 0.1), (4.0, 0.3))), ("grpo", ((1.0, 0.2), (4.0, 0.5))))
    for t, em in points] + [
    {"method": "base", "reference": True, "handwritten_static": 0.0, "wall_s": 9.0},
    {"method": "rag", "reference": True, "handwritten_static": 0.4, "wall_s": 20.0}]


def _figures(em: float | None, **extra: Any) -> dict[str, Any]:
    return {"n": 4, "exact_match": em, "f1": em, "latency_p50_s": 0.2, "prompt_tokens": 30.0,
            "latency_p95_s": 0.3, **extra}


SUMMARY: dict[str, Any] = {
    "results": {
        "heldout_synthetic": {"base": _figures(0.25), "compiled": _figures(0.75),
                              "rag": _figures(0.5), "rag_ceiling": {
                                  "n": 4, "exact_match": 1.0, "f1": None,
                                  "latency_p50_s": None, "prompt_tokens": None},
                              "full_context": _figures(0.5, truncated_share=1.0,
                                                       prompt_tokens=1019.5)},
        "stale": {"compiled": _figures(0.5, stale_error_rate=0.25)},
        "handwritten_volatile": {"compiled": _figures(0.0), "rag": _figures(0.5),
                                 "hybrid": _figures(0.5, prompt_tokens=12.0)},
    },
    "gain_recovery": {"heldout_synthetic": 0.5, "stale": None},
    "models": {"readers": {"base": "kc-base"}, "tenant": "acme",
               "base_model": "smollm2-135m-instruct"},
    "evaluated_at": "2026-12-07T03:36:16+00:00",
    "examples": {"heldout_synthetic": {"rag": [{
        "qid": "p1", "question": "Who owns <script>alert(1)</script>?", "gold": "Lena & co",
        "answer": "<b>lena</b>", "citations": [{"chunk_id": "c1", "source_id": "eng-docs",
                                                 "path": "a/<b>.md"}]}],
        "compiled": [{"qid": "p1", "question": "Who owns <script>alert(1)</script>?",
                      "gold": "Lena & co", "golds": ["Lena & co", "Lena"],
                      "answer": "lena", "citations": []}]},
        "handwritten_volatile": {"rag": [{
            "qid": "v1", "question": "Which cost centre?", "gold": "CC-2200",
            "answer": "cc - 2200 [ 1 ]", "citations": [
                {"chunk_id": "c9", "source_id": "fin", "path": "cc.txt", "section": "Codes"}]}],
            "compiled": [{"qid": "v1", "question": "Which cost centre?", "gold": "CC-2200",
                          "answer": "CC-1100", "citations": []}]}},
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
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == count_plots(ROUTING, CAPACITY, CURVES) == 6
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    md = (page.parent / "summary.md").read_text()
    assert md == markdown_table(SUMMARY)
    assert ("| compiled | 0.750 (F1 0.750, n=4) | 0.500 (F1 0.500, n=4) | 0.000 (F1 0.000, "
            "n=4) |") in md
    assert "| rag_ceiling | 1.000 (F1 -, n=4) | - | - |" in md
    saved = json.loads((page.parent / "summary.json").read_text())
    assert saved["routing"] == ROUTING and saved["capacity_budget"] == CAPACITY


def test_first_screen_heading_verdict_and_glossary() -> None:
    html = render_html(SUMMARY | {"promotion": PROMOTED}, None, None, None)
    first = html[:html.index("<h2>Accuracy</h2>")]
    assert ('<h1 id="title">Knowledge Compiler evaluation: acme, 2026-12-07</h1>') in first
    assert ("model kc-acme · candidate v3 · previous champion v2 · base model "
            "smollm2-135m-instruct") in first
    verdict = re.search(r'<p class="verdict" id="verdict">(.*?)</p>', first)
    assert verdict is not None
    text = re.sub(r"<[^>]+>", "", verdict.group(1))
    # Static: compiled 75% on heldout_synthetic (no hand-written static set here); volatile:
    # rag and hybrid tie at 50%, hybrid reads fewer prompt tokens.
    assert text == ("Use compiled for static questions (75% exact match on heldout_synthetic, "
                    "against rag 50%); use hybrid for volatile questions (50% exact match on "
                    "handwritten_volatile, against compiled 0%). Candidate v3 was promoted to "
                    "champion: at least as accurate as the champion on heldout_synthetic.")
    for term in ("base", "compiled", "rag", "full_context", "hybrid", "rag_ceiling",
                 "heldout_synthetic", "stale", "handwritten_volatile"):
        assert f"{term}</dt>" in first
    assert "<pre>" not in html and "|---|" not in html


def test_verdict_when_the_gate_refuses() -> None:
    refused = PROMOTED | {"promoted": False, "reason": "stale-fact error rate 0.300 exceeds "
                                                      "0.200"}
    html = render_html(SUMMARY | {"promotion": refused}, None, None, None)
    assert ('<p class="verdict refused" id="verdict">' in html)
    assert ("Candidate v3 <b>was not promoted</b> (v2 stays champion): stale-fact error rate "
            "0.300 exceeds 0.200.") in html
    assert "No promotion decision was recorded" in render_html(SUMMARY, None, None, None)


def test_formats_colours_and_examples() -> None:
    html = render_html(SUMMARY, ROUTING, CAPACITY, None)
    assert "<td>77.5%</td>" in html  # capacity: 3,100 of 4,000 bits
    assert "<td>3,100</td><td>4,000</td>" in html
    assert "<td>1,020</td>" in html  # mean prompt tokens as an integer
    assert "<td>75%</td>" in html  # exact match as a share
    for arm, colour in ARM_COLOURS.items():
        if any(arm in by_arm for by_arm in SUMMARY["results"].values()):
            assert f'style="background:{colour}"></span>{arm}' in html
    assert arm_colour("new_arm") == arm_colour("new_arm")
    # Examples: marked against every gold, detokenised, with the cited chunk.
    assert '&#10003; right</span></td><td class="text">lena</td>' in html
    assert '&#10007; wrong</span></td><td class="text">CC-1100</td>' in html
    assert "&#8776; contains gold" in html  # "<b>lena</b>": the gold inside a short answer
    assert '<td class="text">cc-2200 [1]</td>' in html
    assert "fin:cc.txt § Codes" in html and "none (closed-book)" in html


def test_readable_mends_tokenizer_spacing() -> None:
    assert readable("cc - 2200") == "cc-2200"
    assert readable("o ' neil, $ 1, 800") == "o'neil, $1,800"
    assert readable("Paris - the capital.") == "Paris - the capital."
    assert readable("Note: 3 . 5 % ( approx )") == "Note: 3.5% (approx)"


def test_chunk_texts_are_shown_beside_the_answer() -> None:
    summary = json.loads(json.dumps(SUMMARY))
    assert cited_chunk_ids(summary) == {"c1", "c9"}
    add_chunk_texts(summary, {"c9": "Financial Planning <CC-2200> " + "word " * 100})
    html = render_html(summary, None, None, None)
    assert '<span class="chunk">Financial Planning &lt;CC-2200&gt; word' in html
    assert "word …</span>" in html  # cut at a word


def test_learning_curve_section_only_when_present(tmp_path: Path) -> None:
    assert "Learning curve" not in render_html(SUMMARY, None, None, None)
    html = render_html(SUMMARY | {"learning_curve": LEARNING_CURVE}, None, None, None)
    assert "<h2>Learning curve</h2>" in html
    assert html.count("<img") == count_plots(None, None, None, LEARNING_CURVE) == 4
    assert "<tr><td class=\"l\">grpo</td><td>4.00</td><td>48,000</td><td>50%</td>" in html
    assert "<tr><td class=\"l\">rag (reference)</td><td>-</td><td>-</td><td>40%</td>" in html
    assert "0.8 of rag's gain) at ~" in html  # the projection under the table


def test_update_report_adds_the_promotion(tmp_path: Path) -> None:
    page = write_report(SUMMARY, tmp_path / "r", ROUTING, CAPACITY)
    assert "No promotion decision" in page.read_text()
    assert update_report(tmp_path / "r", promotion=PROMOTED) == page
    html = page.read_text()
    assert "Candidate v3 <b>was promoted</b>" in html and "<h2>Routing</h2>" in html
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["promotion"] == PROMOTED


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: "
                    "apt-get install -y chromium to run the headless rendering check")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_report(SUMMARY | {"promotion": PROMOTED}, tmp_path / "r", ROUTING, None,
                        CURVES)
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
    assert "Knowledge Compiler evaluation: acme, 2026-12-07</h1>" in dom
    assert re.search(r'id="verdict">Use .*compiled.* for static questions', dom)
    assert "<pre" not in dom and "|---|" not in dom and "| arm |" not in dom
    problems = [line for line in done.stderr.splitlines()
                if "CONSOLE" in line or "Uncaught" in line]
    assert problems == []
