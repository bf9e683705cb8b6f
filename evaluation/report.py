"""The evaluation report: one self-contained HTML page (plots as inline base64 PNGs, no scripts,
no external resources), `summary.md` (arms x sets table) and `summary.json`.

Every text taken from data (questions, answers, paths, names) is HTML-escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from evaluation.question_sets import QUESTION_SETS
from evaluation.runner import SUMMARY_ARMS, EvaluationResult

Curves = Mapping[str, Sequence[tuple[int, float]]]
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%}
.muted{color:#777}"""


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _ordered(summary: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    results = summary.get("results", {})
    sets = [s for s in QUESTION_SETS if s in results] + sorted(set(results) - set(QUESTION_SETS))
    present = {a for by_arm in results.values() for a in by_arm}
    arms = [a for a in SUMMARY_ARMS if a in present] + sorted(present - set(SUMMARY_ARMS))
    return sets, arms


def accuracy_plot(summary: Mapping[str, Any]) -> str:
    """Grouped bars: exact match per arm (bars) within each question set (groups)."""
    sets, arms = _ordered(summary)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(arms), 1)
    for i, arm in enumerate(arms):
        values = [(summary["results"][s].get(arm) or {}).get("exact_match") or 0.0 for s in sets]
        ax.bar([x + i * width for x in range(len(sets))], values, width, label=arm)
    ax.set_xticks([x + width * (len(arms) - 1) / 2 for x in range(len(sets))], sets,
                  rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("exact match")
    ax.legend(fontsize=8, ncols=4)
    ax.set_title("Accuracy by arm and question set")
    return _png(fig)


def scatter_plot(summary: Mapping[str, Any], x_key: str, x_label: str) -> str:
    """Accuracy against `x_key` (latency or prompt tokens), one point per (arm, set)."""
    sets, arms = _ordered(summary)
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm in arms:
        points = [(f[x_key], f["exact_match"]) for s in sets
                  if (f := summary["results"][s].get(arm)) and f.get(x_key) is not None
                  and f.get("exact_match") is not None]
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], label=arm)
    ax.set_xlabel(x_label)
    ax.set_ylabel("exact match")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(f"Accuracy vs {x_label}")
    return _png(fig)


def counts_plot(counts: Mapping[str, Mapping[str, float]], title: str, ylabel: str) -> str:
    """Stacked bars: one bar per outer key, stacked by inner key."""
    outer = list(counts)
    inner = sorted({k for v in counts.values() for k in v})
    fig, ax = plt.subplots(figsize=(6, 4))
    bottom = [0.0] * len(outer)
    for key in inner:
        values = [float(counts[o].get(key, 0)) for o in outer]
        ax.bar(outer, values, bottom=bottom, label=key)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _png(fig)


def curves_plot(curves: Curves) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Training curves")
    ax.legend(fontsize=8)
    return _png(fig)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(summary: Mapping[str, Any]) -> str:
    """Arms (rows) x question sets (columns): exact match, with F1, "in" (the gold inside an
    answer of at most 12 words) and n."""
    sets, arms = _ordered(summary)
    lines = ["| arm | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for arm in arms:
        cells = []
        for s in sets:
            f = summary["results"][s].get(arm)
            cells.append("-" if not f else
                         f"{_fmt(f.get('exact_match'))} (F1 {_fmt(f.get('f1'))}"
                         + (f", in {_fmt(f['contained'])}" if f.get("contained") is not None
                            else "") + f", n={f['n']})")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    gains = summary.get("gain_recovery") or {}
    lines += ["", "Gain recovery (compiled - base) / (max(rag, rag_ceiling) - base): "
              + ", ".join(f"{s} {_fmt(gains.get(s))}" for s in sets)]
    readers = (summary.get("models") or {}).get("readers") or {}
    if readers:
        lines += ["", "Readers: " + "; ".join(f"{a}: {r}" for a, r in readers.items())]
    forgot = summary.get("forgetting") or {}
    if forgot and forgot.get("known"):
        lines += ["", f"Forgetting on generic questions the base answers: the compiled model "
                  f"still answers {forgot['kept']} of {forgot['known']} (forgetting "
                  f"{_fmt(forgot['forgetting'])})"]
    cap = summary.get("capacity") or {}
    if cap:
        lines += ["", f"Capacity: {_fmt(cap['facts_recalled'])} of {cap['facts_trained']} "
                  f"trained facts recalled (held-out gain {_fmt(cap['heldout_gain'])}) x "
                  f"{_fmt(cap['bits_per_fact'])} bits / {cap['trainable_parameters']:,} "
                  f"trainable parameters = {cap['bits_per_parameter']:.4f} bits per parameter"
                  + ("" if "fed_to_routing" not in cap else
                     " (a lower bound on capacity: the routing budget uses it only where it "
                     "exceeds the anchor)" if cap["fed_to_routing"] else
                     " (nothing recalled: not recorded)")]
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f'<th class="l">{escape(h)}</th>' if i == 0 else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(
        f'<td class="l">{escape(_fmt(c))}</td>' if i == 0 else f"<td>{escape(_fmt(c))}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _results_table(summary: Mapping[str, Any]) -> str:
    sets, arms = _ordered(summary)
    keys = ("n", "exact_match", "f1", "contained", "latency_p50_s", "latency_p95_s",
            "prompt_tokens")
    rows = [[f"{s} / {a}", *(f.get(k) for k in keys)] for s in sets for a in arms
            if (f := summary["results"][s].get(a))]
    return _table(["set / arm", *keys], rows)


def _examples_html(summary: Mapping[str, Any]) -> str:
    parts = []
    for qset, by_arm in (summary.get("examples") or {}).items():
        rows = []
        for arm, items in by_arm.items():
            for item in items:
                cites = "<br>".join(escape(f"{c.get('source_id')}:{c.get('path')}"
                                           f" ({c.get('chunk_id')})")
                                    for c in item.get("citations", []))
                rows.append(f'<tr><td class="l">{escape(arm)}</td>'
                            f'<td class="l">{escape(str(item["question"]))}</td>'
                            f'<td class="l">{escape(str(item["gold"]))}</td>'
                            f'<td class="l">{escape(str(item["answer"]))}</td>'
                            f'<td class="l">{cites}</td></tr>')
        parts.append(f"<h3>{escape(qset)}</h3><table><tr><th>arm</th><th>question</th>"
                     f"<th>gold</th><th>answer</th><th>citations</th></tr>{''.join(rows)}</table>")
    return "".join(parts)


def _stale_html(summary: Mapping[str, Any]) -> str:
    stale = summary.get("results", {}).get("stale")
    if not stale:
        return '<p class="muted">No stale-fact regression set was evaluated.</p>'
    rows = [[arm, f.get("n"), f.get("exact_match"), f.get("stale_error_rate")]
            for arm, f in stale.items() if arm != "rag_ceiling"]
    return _table(["arm", "n", "new answer (EM)", "old answer given"], rows)


def render_html(summary: Mapping[str, Any], routing: Mapping[str, Mapping[str, float]] | None,
                capacity: Mapping[str, Mapping[str, float]] | None, curves: Curves | None,
                title: str = "Knowledge Compiler evaluation") -> str:
    """The page. `routing`: {tenant: {route: documents}}; `capacity`: {tenant: {"budget_bits",
    "used_bits"}} (any numeric keys); `curves`: {model: [(step, loss), ...]}."""
    sections = [f"<h1>{escape(title)}</h1>", "<h2>Accuracy</h2>", accuracy_plot(summary),
                f"<pre>{escape(markdown_table(summary))}</pre>", _results_table(summary),
                "<h2>Cost</h2>",
                scatter_plot(summary, "latency_p50_s", "latency p50 (s)"),
                scatter_plot(summary, "prompt_tokens", "prompt tokens")]
    if routing:
        sections += ["<h2>Routing</h2>", counts_plot(routing, "Documents per route", "documents"),
                     _table(["tenant", *sorted({k for v in routing.values() for k in v})],
                            [[t, *(v.get(k, 0) for k in sorted(
                                {k for v in routing.values() for k in v}))]
                             for t, v in routing.items()])]
    if capacity:
        sections += ["<h2>Capacity budget</h2>",
                     counts_plot({t: dict(v) for t, v in capacity.items()},
                                 "Capacity budget vs use", "bits"),
                     _table(["tenant", *sorted({k for v in capacity.values() for k in v})],
                            [[t, *(v.get(k) for k in sorted(
                                {k for v in capacity.values() for k in v}))]
                             for t, v in capacity.items()])]
    if curves and any(curves.values()):
        sections += ["<h2>Training</h2>", curves_plot(curves)]
    sections += ["<h2>Stale facts</h2>", _stale_html(summary),
                 "<h2>Example answers</h2>", _examples_html(summary)]
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>")


def count_plots(routing: Mapping[str, Any] | None, capacity: Mapping[str, Any] | None,
                curves: Curves | None) -> int:
    """How many images `render_html` draws for these inputs."""
    return 3 + bool(routing) + bool(capacity) + bool(curves and any(curves.values()))


def write_report(result: EvaluationResult | Mapping[str, Any], out_dir: str | Path,
                 routing: Mapping[str, Mapping[str, float]] | None = None,
                 capacity: Mapping[str, Mapping[str, float]] | None = None,
                 curves: Curves | None = None) -> Path:
    """Write `index.html`, `summary.md` and `summary.json` (and `answers.jsonl` for a full
    result) into `out_dir`; returns the path of `index.html`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(result, EvaluationResult):
        result.write_json(out)
        summary: Mapping[str, Any] = result.summary
    else:
        import json

        summary = result
        (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True,
                                                     default=str))
    (out / "summary.md").write_text(markdown_table(summary))
    page = out / "index.html"
    page.write_text(render_html(summary, routing, capacity, curves), encoding="utf-8")
    return page
