"""The evaluation report (see `page`): `write_report` writes `index.html`, `summary.md` and
`summary.json`; `update_report` redraws it with more keys (the promotion); `add_chunk_texts`
and `warehouse_chunk_texts` let the examples show the text of the chunk they cite."""

from evaluation.report.examples import (
    add_chunk_texts,
    cited_chunk_ids,
    readable,
    warehouse_chunk_texts,
)
from evaluation.report.page import count_plots, render_html, update_report, write_report
from evaluation.report.style import ARM_COLOURS, arm_colour
from evaluation.report.tables import markdown_table

__all__ = [
    "ARM_COLOURS",
    "add_chunk_texts",
    "arm_colour",
    "cited_chunk_ids",
    "count_plots",
    "markdown_table",
    "readable",
    "render_html",
    "update_report",
    "warehouse_chunk_texts",
    "write_report",
]
