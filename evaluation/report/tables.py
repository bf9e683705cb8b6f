"""The report's tables: HTML for the page and the arms x sets markdown of `summary.md`.

Every cell taken from data is HTML-escaped; shares are shown as percentages and token counts as
integers with thousands separators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from evaluation.learning_curve import projection
from evaluation.report.style import (
    integer,
    number,
    ordered_arms,
    ordered_sets,
    percent,
    results_of,
    seconds,
)
from evaluation.report.verdict import best_arm, swatch

Cell = str | tuple[str, str]  # text (escaped here), or (already-safe HTML, css class)


def sets_and_arms(summary: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    results = results_of(summary)
    return (ordered_sets(results),
            ordered_arms({a for by_arm in results.values() for a in by_arm}))


def html_table(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A table whose first column is left-aligned; it scrolls inside the page if too wide."""
    def cell(tag: str, value: Cell, first: bool) -> str:
        html, css = value if isinstance(value, tuple) else (escape(value), "")
        css = " ".join(c for c in ("l" if first else "", css) if c)
        return f'<{tag}{f" class={chr(34)}{css}{chr(34)}" if css else ""}>{html}</{tag}>'

    head = "".join(cell("th", h, i == 0) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", c, i == 0) for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f'<div class="wrap"><table><tr>{head}</tr>{body}</table></div>'


def arm_cell(arm: str) -> Cell:
    return swatch(arm) + escape(arm), ""


def accuracy_table(summary: Mapping[str, Any]) -> str:
    """Arms (rows) x sets (columns): exact match, the best answering arm per set in bold."""
    results = results_of(summary)
    sets, arms = sets_and_arms(summary)
    best = {s: (best_arm(results[s]) or ("", 0.0))[0] for s in sets}
    rows: list[list[Cell]] = []
    for arm in arms:
        row: list[Cell] = [arm_cell(arm)]
        for s in sets:
            f = results[s].get(arm) or {}
            text = percent(f.get("exact_match"))
            if f.get("f1") is not None:
                text += f" (F1 {percent(f['f1'])})"
            row.append((escape(text), "best" if arm == best[s] else ""))
        rows.append(row)
    return html_table(["arm", *(f"{s} (n={_n(results[s])})" for s in sets)], rows)


def _n(by_arm: Mapping[str, Any]) -> str:
    return "/".join(sorted({str(f.get("n")) for f in by_arm.values() if f}))


def results_table(summary: Mapping[str, Any]) -> str:
    """Every (set, arm): n, exact match, F1, gold inside a short answer, latency, tokens."""
    results = results_of(summary)
    sets, arms = sets_and_arms(summary)
    rows = [[s, arm_cell(a), number(f.get("n")), percent(f.get("exact_match")),
             percent(f.get("f1")), percent(f.get("contained")), seconds(f.get("latency_p50_s")),
             seconds(f.get("latency_p95_s")), integer(f.get("prompt_tokens"))]
            for s in sets for a in arms if (f := results[s].get(a))]
    return html_table(["question set", "arm", "n", "exact match", "F1", "gold in short answer",
                       "latency p50", "latency p95", "prompt tokens (mean)"], rows)


def notes_html(summary: Mapping[str, Any]) -> str:
    """Gain recovery, readers, forgetting and capacity as sentences."""
    sets, _ = sets_and_arms(summary)
    items = []
    gains = summary.get("gain_recovery") or {}
    if gains:
        items.append("Gain recovery, (compiled - base) / (max(rag, rag_ceiling) - base): "
                     + ", ".join(f"{s} {percent(gains.get(s))}" for s in sets if s in gains))
    readers = (summary.get("models") or {}).get("readers") or {}
    if readers:
        items.append("Readers: " + "; ".join(f"{a}: {r}" for a, r in readers.items()))
    forgot = summary.get("forgetting") or {}
    if forgot.get("known"):
        items.append(f"Forgetting: of {forgot['known']:,} generic questions the base answers, "
                     f"the compiled model still answers {forgot['kept']:,} (forgetting "
                     f"{percent(forgot.get('forgetting'))}).")
    cap = summary.get("capacity") or {}
    if cap:
        items.append(f"Capacity: {integer(cap['facts_recalled'])} of {cap['facts_trained']:,} "
                     f"trained facts recalled (held-out gain {percent(cap['heldout_gain'])}) "
                     f"x {number(cap['bits_per_fact'])} bits / "
                     f"{cap['trainable_parameters']:,} trainable parameters = "
                     f"{cap['bits_per_parameter']:.2e} bits per parameter.")
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>" if items else ""


def routing_table(routing: Mapping[str, Mapping[str, float]]) -> str:
    routes = sorted({k for v in routing.values() for k in v})
    return html_table(["tenant", *routes, "total"],
                      [[t, *(integer(v.get(r, 0)) for r in routes), integer(sum(v.values()))]
                       for t, v in routing.items()])


def capacity_share(figures: Mapping[str, float]) -> float | None:
    budget, used = figures.get("budget_bits"), figures.get("used_bits")
    return used / budget if budget and used is not None else None


def capacity_table(capacity: Mapping[str, Mapping[str, float]]) -> str:
    return html_table(["tenant", "used (bits)", "budget (bits)", "used / budget"],
                      [[t, integer(v.get("used_bits")), integer(v.get("budget_bits")),
                        percent(capacity_share(v), 1)] for t, v in capacity.items()])


def stale_table(summary: Mapping[str, Any]) -> str:
    stale = results_of(summary).get("stale")
    if not stale:
        return '<p class="muted">No stale-fact regression set was evaluated.</p>'
    return html_table(["arm", "n", "new answer given (exact match)", "old answer given"],
                      [[arm_cell(a), number(f.get("n")), percent(f.get("exact_match")),
                        percent(f.get("stale_error_rate"))]
                       for a in ordered_arms(stale) if a != "rag_ceiling" and (f := stale[a])])


def learning_curve_table(rows: Sequence[Mapping[str, Any]]) -> str:
    def method(r: Mapping[str, Any]) -> str:
        return f"{r['method']} (reference)" if r.get("reference") else str(r["method"])

    return html_table(["method", "synthetic tokens per source token", "synthetic tokens",
                       "hand-written static (exact match)", "wall time"],
                      [[method(r), "-" if r.get("reference") else
                        f"{r['tokens_per_source_token']:,.2f}",
                        integer(r.get("synthetic_tokens")), percent(r.get("handwritten_static")),
                        seconds(r.get("wall_s"))] for r in rows])


def projection_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """What the measured curve predicts: the synthetic tokens (and training time) at which each
    method would reach 0.8 of rag's gain, if the log-linear trend holds."""
    fits = projection(rows)
    if not fits:
        return ""
    lines = []
    for f in fits:
        if f["ratio_needed"] is None:
            why = ("fewer than two points at 1x or more" if f["slope_per_decade"] is None
                   else "no rise with more data")
            lines.append(f"<li><b>{escape(f['method'])}</b>: no projection ({why}).</li>")
        else:
            need = f["wall_s_needed"]
            took = (f"{need / 3600:,.1f} h" if need and need >= 3600 else
                    f"{(need or 0) / 60:,.0f} min")
            hours = f" (about {took} of training on this machine)" if need else ""
            lines.append(f"<li><b>{escape(f['method'])}</b>: +{f['slope_per_decade']:.1%} a "
                         f"decade of data; {percent(f['target'])} (0.8 of rag's gain) at "
                         f"~{f['ratio_needed']:,.0f}x synthetic tokens per source token"
                         f"{hours}.</li>")
    return ("<p>If accuracy keeps growing log-linearly with synthetic tokens:</p><ul>"
            + "".join(lines) + "</ul>")


# ---------------------------------------------------------------- summary.md
def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(summary: Mapping[str, Any]) -> str:
    """`summary.md`: arms (rows) x question sets (columns): exact match, with F1, "in" (the gold
    inside an answer of at most 12 words) and n, then gain recovery, readers, forgetting and
    capacity as lines."""
    sets, arms = sets_and_arms(summary)
    results = results_of(summary)
    lines = ["| arm | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for arm in arms:
        cells = []
        for s in sets:
            f = results[s].get(arm)
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
