"""`kc audit`: the privacy and reliability figures, as one table (and JSON under reports/).

Rows are dicts with keys probe, subject, figure, value, goal, passed (True / False, or None
where a figure is reported without a pass mark). Probes on the configured corpus read what is
under ``$KC_HOME``; the others build their own small corpora in a temporary folder, so an audit
never writes to the configured stores.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = dict[str, Any]
# Probes of the trained adapters, each a module with ``audit_rows(settings) -> list[dict]``.
TRAINING_PROBES = ("evaluation.privacy.membership", "evaluation.privacy.canaries")


def row(probe: str, subject: str, figure: str, value: Any, goal: str,
        passed: bool | None) -> Row:
    return {"probe": probe, "subject": subject, "figure": figure, "value": value, "goal": goal,
            "passed": passed}


# ---------------------------------------------------------------- the configured corpus

def _planted_northwind(settings) -> dict[str, list[str]] | None:
    """The Northwind builder's planted secrets and PII, when the configured corpus is it."""
    from ingestion.config import source_specs

    if not any("northwind" in str(s.path or "") for s in source_specs(settings)):
        return None
    from examples.northwind.build import build_corpus

    with tempfile.TemporaryDirectory(prefix="kc-audit-nw-") as tmp:
        manifest = build_corpus(Path(tmp) / "northwind")
    planted = manifest.planted_secrets + manifest.planted_pii
    return {f"{kind}:{value[:12]}": [value] for kind, value in planted}


def configured_store_rows(settings) -> list[Row]:
    """Planted Northwind secrets/PII found per store, and chunks the scrubber would still
    redact (a re-scan of what was stored)."""
    import duckdb

    from evaluation.privacy.stores import find_in_stores
    from ingestion.scrub import contains_secret

    home = settings.kc_home
    if not settings.warehouse_path.exists():
        return [row("secrets in stores", str(home), "stores searched", 0,
                    "run `kc run` first", False)]
    rows = []
    needles = _planted_northwind(settings)
    if needles is not None:
        found, searched = find_in_stores(home, needles)
        for store in searched:
            hits = sorted(k for k, stores in found.items() if store in stores)
            rows.append(row("secrets in stores", f"{store} ({home.name})",
                            f"planted Northwind secrets/PII found (of {len(needles)})",
                            len(hits), "0", not hits))
    # Stored document text only: ids and hashes elsewhere are hex by design.
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        texts = [t for (t,) in con.execute("select text from raw.chunks").fetchall()]
    finally:
        con.close()
    flagged = sum(1 for t in texts if contains_secret(t))
    rows.append(row("secrets in stores", f"duckdb raw.chunks ({home.name})",
                    "chunks the scrubber flags on a re-scan", flagged, "0", flagged == 0))
    if (settings.index_path / "chunks.lance").exists():
        import lancedb

        table = lancedb.connect(str(settings.index_path)).open_table("chunks")
        texts = table.search().select(["text"]).limit(None).to_arrow().column("text")
        flagged = sum(1 for t in texts.to_pylist() if contains_secret(t))
        rows.append(row("secrets in stores", f"lancedb chunks ({home.name})",
                        "chunks the scrubber flags on a re-scan", flagged, "0", flagged == 0))
    return rows


def inversion_rows(settings) -> list[Row]:
    import lancedb

    from evaluation.privacy.inversion import attack_index
    from retrieval.embedder import HashingEmbedder, SentenceTransformerEmbedder

    if not (settings.index_path / "chunks.lance").exists():
        return [row("embedding inversion", str(settings.index_path), "recovery rate", None,
                    "run `kc run` first", None)]
    table = lancedb.connect(str(settings.index_path)).open_table("chunks")
    # The attacker uses the model that built the index (its id is in the table's metadata).
    built_with = (table.schema.metadata or {}).get(b"kc.embedder_id", b"").decode()
    embedder = (HashingEmbedder(dim=int(built_with.split("-")[1]))
                if built_with.startswith("hashing-") else
                SentenceTransformerEmbedder(model_path=settings.embedder_path(), threads=1))
    report = attack_index(settings.index_path, embedder)
    unguarded = table.count_rows("array_length(acl_groups) = 0 OR tenant IS NULL")
    return [
        row("embedding inversion", f"{report.vectors_attacked} stored vectors, "
            f"{report.candidates} candidates", "names/identifiers recovered (top-1)",
            report.recovery_rate, f"reported; chance {report.chance_rate}", None),
        row("embedding inversion", "vectors without tenant/ACL", "rows", unguarded,
            "0: vectors are stored under the text's ACL", unguarded == 0),
    ]


def lineage_rows(settings) -> list[Row]:
    from evaluation.privacy.isolation import adapter_lineage_leaks, registered_lineage
    from training import registry

    if not settings.warehouse_path.exists():
        return []
    registry.Tracking.local(settings.kc_home).activate()
    lineage = registered_lineage(settings.tenants)
    if not lineage:
        return [row("tenant isolation", "adapters", "foreign documents in lineage", None,
                    "no adapter registered yet", None)]
    leaks = adapter_lineage_leaks(settings.warehouse_path, lineage)
    return [row("tenant isolation", f"adapter {key}", "foreign documents in lineage",
                len(ids), "0", not ids) for key, ids in sorted(leaks.items())]


# ---------------------------------------------------------------- generated corpora

def secrets_corpus_rows(workdir: Path) -> list[Row]:
    from evaluation.privacy.secrets_audit import run_secrets_audit

    audit = run_secrets_audit(workdir / "secrets")
    rows = [row("secrets corpus", f"kind {k}", "recall", v, "1.0", v == 1.0)
            for k, v in audit.recall_by_kind.items()]
    rows += [row("secrets corpus", f"placement {p}", "recall", v, "1.0", v == 1.0)
             for p, v in audit.recall_by_placement.items()]
    rows.append(row("secrets corpus", f"{audit.clean_ingested} clean files",
                    "false positives per 1,000", audit.fp_per_1000, "<= 5",
                    audit.fp_per_1000 <= 5))
    return rows


def isolation_rows(workdir: Path, queries_per_user: int = 200) -> list[Row]:
    from evaluation.privacy.isolation import run_isolation_check

    report = run_isolation_check(workdir / "isolation", queries_per_user=queries_per_user)
    return [row("tenant isolation", f"3 tenants x {queries_per_user} queries (search + ask)",
                f"foreign chunks/citations in {report.hits_checked} hits", report.leaks, "0",
                report.leaks == 0)]


def bad_input_rows(workdir: Path) -> list[Row]:
    from examples.bad_inputs import make_bad_corpus
    from ingestion.config import IngestionConfig, SourceSpec
    from ingestion.runner import ingest_all
    from ingestion.sources import display_path
    from ingestion.warehouse import connect

    root = workdir / "bad" / "corpus"
    files = make_bad_corpus(root)
    spec = SourceSpec(name="bad", type="documents", tenant="audit", acl_groups=("audit",),
                      path=root)
    warehouse = workdir / "bad" / "warehouse.duckdb"
    ingest_all(warehouse, [spec], IngestionConfig(), home=workdir / "bad")
    with connect(warehouse, read_only=True) as con:
        failed = {r[0] for r in con.execute("select path from raw.ingest_failures").fetchall()}
    # Root reads chmod-000 files, so "unreadable" is only quarantined for other users.
    expected = {f.kind: display_path(f.relpath) for f in files
                if f.expect == "quarantine" and f.kind != "unreadable"}
    caught = [k for k, path in expected.items() if path in failed]
    return [row("bad inputs", f"{len(expected)} hostile kinds", "quarantined with a reason",
                f"{len(caught)}/{len(expected)}", "all; 0 crashes, 0 hangs",
                len(caught) == len(expected))]


def training_probe_rows(settings) -> list[Row]:
    rows = []
    for name in TRAINING_PROBES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            rows.append(row(name.rsplit(".", 1)[-1], "probe not installed", "", None, "", None))
            continue
        rows.extend(module.audit_rows(settings))
    return rows


# ---------------------------------------------------------------- the table

def run_audit(settings, *, workdir: Path | None = None,
              probes: tuple[str, ...] | None = None) -> list[Row]:
    """Every probe's rows (or those named in ``probes``), in a fixed order."""
    steps: dict[str, Callable[[Path], list[Row]]] = {
        "stores": lambda _: configured_store_rows(settings),
        "secrets_corpus": secrets_corpus_rows,
        "inversion": lambda _: inversion_rows(settings),
        "isolation": isolation_rows,
        "lineage": lambda _: lineage_rows(settings),
        "bad_inputs": bad_input_rows,
        "training": lambda _: training_probe_rows(settings),
    }
    unknown = sorted(set(probes or ()) - set(steps))
    if unknown:
        raise ValueError(f"unknown audit probes {unknown}: expected some of {sorted(steps)}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kc-audit-") as tmp:
        base = Path(workdir or tmp)
        for name, step in steps.items():
            if probes is None or name in probes:
                rows.extend(step(base))
    return rows


def format_table(rows: list[Row]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return "-" if value is None else str(value)

    marks = {True: "pass", False: "FAIL", None: ""}
    header = ("probe", "subject", "figure", "value", "goal", "passed")
    body = [(r["probe"], r["subject"], r["figure"], cell(r["value"]), r["goal"],
             marks[r["passed"]]) for r in rows]
    widths = [min(48, max(len(str(x)) for x in col)) for col in zip(header, *body, strict=False)]
    lines = ["  ".join(str(x)[:w].ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in (header, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_report(rows: list[Row], reports_path: Path) -> Path:
    reports_path.mkdir(parents=True, exist_ok=True)
    path = reports_path / "audit.json"
    path.write_text(json.dumps({"rows": rows}, indent=2, default=str) + "\n")
    return path



def audit_and_report(config: str | Path,
                     probes: list[str] | None = None) -> tuple[list[Row], Path]:
    """Run the audit for a kc.yaml and write $KC_HOME/reports/audit.json."""
    from knowledge_compiler.runtime import prepare

    settings = prepare(config)
    rows = run_audit(settings, probes=tuple(probes) if probes else None)
    return rows, write_report(rows, settings.reports_path)
