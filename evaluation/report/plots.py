"""The report's charts, as inline PNGs (no scripts, no external files: the page renders in
MLflow's artifact viewer). Arms keep their colour from `style.ARM_COLOURS` in every chart;
legends sit outside the axes so they never cover a bar or a point."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, PercentFormatter
from matplotlib.transforms import Bbox

from evaluation.learning_curve import gain_target
from evaluation.report.style import ROUTE_COLOURS, arm_colour, results_of
from evaluation.report.tables import capacity_share, sets_and_arms

Curves = Mapping[str, Sequence[tuple[int, float]]]
_PERCENT = PercentFormatter(xmax=1.0, decimals=0)


def png(fig: Any, alt: str) -> str:
    """The figure as an <img> with an inline base64 PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _legend_right(ax: Any, **kwargs: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, **kwargs)


def accuracy_plot(summary: Mapping[str, Any]) -> str:
    """Grouped bars: exact match per arm (bars, labelled) within each question set (groups)."""
    sets, arms = sets_and_arms(summary)
    results = results_of(summary)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    width = 0.8 / max(len(arms), 1)
    for i, arm in enumerate(arms):
        xs = [x + (i - (len(arms) - 1) / 2) * width for x in range(len(sets))]
        values = [(results[s].get(arm) or {}).get("exact_match") for s in sets]
        bars = ax.bar(xs, [v or 0.0 for v in values], width * 0.92, label=arm,
                      color=arm_colour(arm))
        ax.bar_label(bars, labels=["" if v is None else f"{100 * v:.0f}" for v in values],
                     fontsize=7, padding=1)
    ax.set_xticks(range(len(sets)), sets)
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(_PERCENT)
    ax.set_ylabel("exact match (% of questions)")
    ax.spines[["top", "right"]].set_visible(False)
    _legend_right(ax, title="arm")
    ax.set_title("Accuracy by arm and question set (bar labels: %)")
    return png(fig, "Exact match per arm and question set")


_LABEL_OFFSETS = ((6, 4), (6, -11), (-6, 4), (-6, -11), (6, 15), (6, -22), (-6, 15),
                  (-6, -22), (6, 26), (6, -33))


def _label_points(ax: Any, points: list[tuple[float, float, str]]) -> None:
    """Write each point's arm beside it: points within a few pixels share one label, and each
    label takes the first offset where it overlaps no other label and stays in the axes."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_pixels = ax.transData.transform
    groups: list[tuple[float, float, list[str]]] = []
    for x, y, arm in points:
        px, py = to_pixels((x, y))
        for gx, gy, names in groups:
            gpx, gpy = to_pixels((gx, gy))
            if abs(gpx - px) < 8 and abs(gpy - py) < 8:
                names.append(arm)
                break
        else:
            groups.append((x, y, [arm]))
    frame = ax.get_window_extent(renderer)
    taken: list[Any] = []
    for x, y, names in groups:
        for dx, dy in _LABEL_OFFSETS:
            label = ax.annotate(", ".join(names), (x, y), textcoords="offset points",
                                xytext=(dx, dy), fontsize=7, ha="left" if dx > 0 else "right")
            tight = label.get_window_extent(renderer)
            box = Bbox.from_extents(tight.x0 - 3, tight.y0 - 2, tight.x1 + 3, tight.y1 + 2)
            inside = frame.x0 <= tight.x0 and tight.x1 <= frame.x1 \
                and frame.y0 <= tight.y0 and tight.y1 <= frame.y1
            if inside and not any(box.overlaps(t) for t in taken):
                taken.append(box)
                break
            label.remove()
        else:  # nowhere free: keep the first place rather than drop the name
            taken.append(ax.annotate(", ".join(names), (x, y), textcoords="offset points",
                                     xytext=_LABEL_OFFSETS[0], fontsize=7
                                     ).get_window_extent(renderer))


def scatter_plot(summary: Mapping[str, Any], x_key: str, x_label: str,
                 log_x: bool = False) -> str:
    """Accuracy against `x_key` (latency or prompt tokens): one panel per question set, one
    labelled point per arm."""
    sets, arms = sets_and_arms(summary)
    results = results_of(summary)
    fig, axes = plt.subplots(1, max(len(sets), 1), figsize=(3.8 * max(len(sets), 1), 3.3),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, qset in zip(axes[0], sets, strict=False):
        points = [(f[x_key], f["exact_match"], arm) for arm in arms
                  if (f := results[qset].get(arm)) and f.get(x_key) is not None
                  and f.get("exact_match") is not None]
        for x, y, arm in points:
            ax.scatter([x], [y], color=arm_colour(arm), s=36, zorder=3)
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_title(qset, fontsize=9)
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_ylim(-0.08, 1.12)
        ax.margins(x=0.3)
        ax.yaxis.set_major_formatter(_PERCENT)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("exact match")
    fig.suptitle(f"Accuracy against {x_label}", fontsize=10)
    for ax, qset in zip(axes[0], sets, strict=False):  # once the layout is fixed
        points = [(f[x_key], f["exact_match"], arm) for arm in arms
                  if (f := results[qset].get(arm)) and f.get(x_key) is not None
                  and f.get("exact_match") is not None]
        if points:
            _label_points(ax, points)
    return png(fig, f"Exact match against {x_label} per question set")


def routing_plot(routing: Mapping[str, Mapping[str, float]]) -> str:
    """Stacked bars: documents per route, one bar per tenant."""
    tenants = list(routing)
    routes = sorted({k for v in routing.values() for k in v})
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.45 * len(tenants)))
    left = [0.0] * len(tenants)
    for route in routes:
        values = [float(routing[t].get(route, 0)) for t in tenants]
        ax.barh(tenants, values, left=left, label=route,
                color=ROUTE_COLOURS.get(route, "#bbbbbb"))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("documents")
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    _legend_right(ax, title="route")
    ax.set_title("Documents per route")
    return png(fig, "Documents per route and tenant")


def capacity_plot(capacity: Mapping[str, Mapping[str, float]]) -> str:
    """Horizontal bars: the share of each tenant's capacity budget its facts use."""
    tenants = list(capacity)
    shares = [capacity_share(capacity[t]) or 0.0 for t in tenants]
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.45 * len(tenants)))
    bars = ax.barh(tenants, shares, color=["#d55e00" if s > 1 else "#0072b2" for s in shares])
    ax.bar_label(bars, labels=[f"{100 * s:.0f}%" for s in shares], fontsize=8, padding=2)
    ax.axvline(1.0, color="#555", linestyle="--", linewidth=1)
    ax.set_xlim(0, max(1.15, max(shares, default=0) * 1.15))
    ax.xaxis.set_major_formatter(_PERCENT)
    ax.set_xlabel("fact bits used / capacity budget")
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Capacity budget used")
    return png(fig, "Share of the capacity budget used per tenant")


def curves_plot(curves: Curves) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, points in curves.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], label=name, marker=".")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title("Training curves")
    ax.spines[["top", "right"]].set_visible(False)
    _legend_right(ax)
    return png(fig, "Training loss per step")


def learning_curve_plot(rows: Sequence[Mapping[str, Any]]) -> str:
    """Hand-written closed-book accuracy against synthetic tokens per source token (log x),
    one line per method."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    points_rows = [r for r in rows if not r.get("reference")]
    methods = list(dict.fromkeys(r["method"] for r in points_rows))
    for method in methods:
        points = sorted((r["tokens_per_source_token"], r["handwritten_static"])
                        for r in points_rows
                        if r["method"] == method and r.get("handwritten_static") is not None)
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=method)
    # The references: what the curve must approach (the target is 0.8 of rag's gain).
    target = gain_target(rows)
    if target is not None:
        rag = next(r["handwritten_static"] for r in rows
                   if r.get("reference") and r["method"] == "rag")
        ax.axhline(rag, color="#555555", linestyle="--", linewidth=1,
                   label=f"rag (reads top-k): {rag:.0%}")
        ax.axhline(target, color="#999999", linestyle=":", linewidth=1,
                   label=f"0.8 of rag's gain: {target:.0%}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))
    ax.yaxis.set_major_formatter(_PERCENT)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("synthetic training tokens per source token (log scale)")
    ax.set_ylabel("hand-written static, closed-book\n(exact match)")
    ax.set_title("Learning curve: accuracy against synthetic data")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    _legend_right(ax, title="method")
    return png(fig, "Closed-book accuracy against synthetic tokens per source token")
