"""What every part of the report shares: the arm order and colours (one colour per arm in every
chart and table), the glossary, the page's CSS and the number formats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The order arms are listed in, everywhere; arms not named here follow, sorted.
ARM_ORDER = ("base", "compiled", "compiled_sft", "rag", "full_context", "hybrid", "rag_ceiling")
# Colour-blind-safe (Okabe-Ito), fixed per arm so a reader learns them once.
ARM_COLOURS = {
    "base": "#7f7f7f",
    "compiled": "#0072b2",
    "compiled_sft": "#56b4e9",
    "rag": "#009e73",
    "full_context": "#e69f00",
    "hybrid": "#cc79a7",
    "rag_ceiling": "#d55e00",
}
_SPARE_COLOURS = ("#000000", "#f0e442", "#8c564b", "#bcbd22", "#17becf")
ROUTE_COLOURS = {"static": "#0072b2", "volatile": "#009e73", "overflow": "#e69f00",
                 "excluded": "#7f7f7f"}

ARM_GLOSSARY = {
    "base": "the base model alone, closed-book (the reference)",
    "compiled": "the tenant's adapter: facts compiled into weights, closed-book",
    "compiled_sft": "the adapter after SFT only (before GRPO), closed-book",
    "rag": "the compiled model reading the top retrieved passages",
    "full_context": "the compiled model reading as much tenant text as fits",
    "hybrid": "the compiled model, retrieving for volatile content only",
    "rag_ceiling": "gold answer inside the retrieved passages (retrieval's limit)",
}
SET_GLOSSARY = {
    "heldout_synthetic": "new phrasings of facts the candidate was trained on",
    "volatile": "generated questions on changing (retrieved) content",
    "stale": "changed facts: the new answer is right, the old a stale error",
    "handwritten_static": "hand-written questions on stable (compiled) documents",
    "handwritten_volatile": "hand-written questions on changing (retrieved) documents",
}
# Which question sets stand for which kind of question in the verdict, best first.
STATIC_SETS = ("handwritten_static", "heldout_synthetic")
VOLATILE_SETS = ("handwritten_volatile", "volatile")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1.2em 2em;
max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#555;margin:.2em 0 .8em}
.verdict{font-size:1.1em;background:#f5f8fc;border-left:5px solid #0072b2;padding:.6em 1em;
margin:.6em 0}
.verdict.refused{border-left-color:#d55e00;background:#fcf6f2}
.glossary{display:flex;gap:1.5em;flex-wrap:wrap;font-size:.85em;line-height:1.3}
.glossary>div{flex:1 1 400px}.glossary dl{margin:.2em 0}
.glossary dt{font-weight:600;float:left;clear:left;margin-right:.5em}
.glossary dd{margin:0 0 .15em 0}
.wrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
td.text{text-align:left;overflow-wrap:anywhere;max-width:28em}td.l{white-space:nowrap}
tr.q td{background:#fafafa;text-align:left}
.sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.35em;
vertical-align:baseline}
.right{color:#007a55;font-weight:600}.wrong{color:#c03a00;font-weight:600}
.partial{color:#a07000;font-weight:600}
.best{font-weight:700}
img{max-width:100%;height:auto}
.muted{color:#777}.chunk{color:#555;font-size:.9em}
"""


def ordered_arms(arms: Iterable[str]) -> list[str]:
    present = set(arms)
    return [a for a in ARM_ORDER if a in present] + sorted(present - set(ARM_ORDER))


def ordered_sets(sets: Iterable[str]) -> list[str]:
    present = set(sets)
    return [s for s in SET_GLOSSARY if s in present] + sorted(present - set(SET_GLOSSARY))


def arm_colour(arm: str) -> str:
    """The arm's colour; an arm outside ARM_ORDER gets a spare one fixed by its name."""
    if arm in ARM_COLOURS:
        return ARM_COLOURS[arm]
    return _SPARE_COLOURS[sum(arm.encode()) % len(_SPARE_COLOURS)]


def percent(value: float | None, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage: `percent(0.4)` -> '40%'; None -> '-'."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def integer(value: float | None) -> str:
    """A count (a mean of tokens, say) rounded, with thousands separators: 1019.5 -> '1,020'."""
    return "-" if value is None else f"{round(value):,}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def results_of(summary: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    return summary.get("results") or {}
