"""The evaluation report: one self-contained HTML page (plots as inline base64 PNGs, no scripts,
no external resources, so it renders inside MLflow's artifact viewer), `summary.md` (arms x sets
table) and `summary.json`.

The first screen is for a stakeholder: heading (tenant, date, versions, base model), verdict,
glossary and the accuracy table. Every text taken from data is HTML-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.report import plots, tables
from evaluation.report.examples import examples_html
from evaluation.report.style import CSS
from evaluation.report.verdict import glossary_html, heading_html, verdict_html

if TYPE_CHECKING:
    from evaluation.runner import EvaluationResult

TITLE = "Knowledge Compiler evaluation"
LearningCurve = Sequence[Mapping[str, Any]]


def _learning_curve(summary: Mapping[str, Any]) -> LearningCurve:
    return summary.get("learning_curve") or []


def render_html(summary: Mapping[str, Any], routing: Mapping[str, Mapping[str, float]] | None,
                capacity: Mapping[str, Mapping[str, float]] | None,
                curves: plots.Curves | None, title: str = TITLE) -> str:
    """The page. `routing`: {tenant: {route: documents}}; `capacity`: {tenant: {"budget_bits",
    "used_bits"}}; `curves`: {model: [(step, loss), ...]}. From `summary` besides the results:
    `promotion` (see `verdict`), `evaluated_at` (ISO date) and `learning_curve` (rows
    {"method", "tokens_per_source_token", "synthetic_tokens", "handwritten_static",
    "wall_s"}), each optional."""
    sections = [heading_html(summary, title), verdict_html(summary), glossary_html(summary),
                "<h2>Accuracy</h2>", tables.accuracy_table(summary),
                plots.accuracy_plot(summary), tables.notes_html(summary),
                "<h2>Cost</h2>",
                plots.scatter_plot(summary, "latency_p50_s", "latency p50 (s)"),
                plots.scatter_plot(summary, "prompt_tokens", "prompt tokens (log scale)",
                                   log_x=True),
                tables.results_table(summary)]
    curve = _learning_curve(summary)
    if curve:
        sections += ["<h2>Learning curve</h2>", plots.learning_curve_plot(curve),
                     tables.learning_curve_table(curve), tables.projection_html(curve)]
    if routing:
        sections += ["<h2>Routing</h2>", plots.routing_plot(routing),
                     tables.routing_table(routing)]
    if capacity:
        sections += ["<h2>Capacity budget</h2>", plots.capacity_plot(capacity),
                     tables.capacity_table(capacity)]
    if curves and any(curves.values()):
        sections += ["<h2>Training</h2>", plots.curves_plot(curves)]
    sections += ["<h2>Stale facts</h2>", tables.stale_table(summary),
                 "<h2>Example answers</h2>", examples_html(summary)]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>")


def count_plots(routing: Mapping[str, Any] | None, capacity: Mapping[str, Any] | None,
                curves: plots.Curves | None, learning_curve: LearningCurve | None = None) -> int:
    """How many images `render_html` draws for these inputs."""
    return (3 + bool(routing) + bool(capacity) + bool(curves and any(curves.values()))
            + bool(learning_curve))


def write_report(result: EvaluationResult | Mapping[str, Any], out_dir: str | Path,
                 routing: Mapping[str, Mapping[str, float]] | None = None,
                 capacity: Mapping[str, Mapping[str, float]] | None = None,
                 curves: plots.Curves | None = None) -> Path:
    """Write `index.html`, `summary.md` and `summary.json` (and `answers.jsonl` for a full
    result) into `out_dir`; returns the path of `index.html`.

    `summary.json` keeps what the page was drawn from, so `update_report` can redraw it:
    `routing`, `capacity_budget` and `training_curves` when given, and `evaluated_at` (now,
    UTC, unless the summary has it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result if isinstance(result, Mapping) else result.summary
    summary = dict(summary)
    summary.setdefault("evaluated_at", datetime.now(UTC).isoformat(timespec="seconds"))
    for key, value in (("routing", routing), ("capacity_budget", capacity),
                       ("training_curves", curves)):
        if value:
            summary[key] = value
    if not isinstance(result, Mapping):
        result.summary = summary
        result.write_json(out)
    else:
        _write_summary(out, summary)
    return _write_pages(out, summary)


def update_report(out_dir: str | Path, **changes: Any) -> Path:
    """Merge `changes` into the report's `summary.json` (e.g. `promotion=...`, once the gate
    has decided) and redraw `index.html` and `summary.md`; returns the page's path."""
    out = Path(out_dir)
    summary = json.loads((out / "summary.json").read_text()) | changes
    _write_summary(out, summary)
    return _write_pages(out, summary)


def _write_summary(out: Path, summary: Mapping[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True,
                                                 default=str))


def _write_pages(out: Path, summary: Mapping[str, Any]) -> Path:
    (out / "summary.md").write_text(tables.markdown_table(summary))
    page = out / "index.html"
    page.write_text(render_html(summary, summary.get("routing"), summary.get("capacity_budget"),
                                summary.get("training_curves")), encoding="utf-8")
    return page
