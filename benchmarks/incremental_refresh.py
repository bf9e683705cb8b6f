"""A one-document refresh against a full refresh of the sample corpus, as `kc run` runs them.

Both go through the Dagster refresh stage in-process (ingest → dbt build → index, with every
asset check), training excluded. Full: every source into an empty warehouse and index.
Incremental: the same home after one document changed (the scripted "one week later" edit of
the service status page alone). Parses and embeddings are counted from the assets' metadata;
the goal is a wall time ≤ 10 % of the full refresh. It also measures the dbt invocation before
and after the profile-driven fix (``refresh_before_after.json``).
Run: ``python -m benchmarks.incremental_refresh``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.common import publish, result_row, write_results
from settings.offline import apply_offline_defaults

apply_offline_defaults()

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.10


def _metadata(result, key: str) -> dict:
    """The metadata of the materialization of asset ``key`` (a "/"-joined key) in a run."""
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() == key:
            return {k: v.value for k, v in materialization.metadata.items()}
    raise KeyError(f"no materialization of {key} in run {result.run_id}")


def _step_seconds(result) -> dict[str, float]:
    """Wall seconds of each step of the run (ingest, dbt, index and the asset checks)."""
    out = {}
    for event in result.all_events:
        if event.is_step_success or event.is_step_failure:
            out[event.step_key] = event.event_specific_data.duration_ms / 1000
    return out


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (dbt, the parser worker): less
    sensitive than wall time to other jobs on a shared machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def refresh(defs, instance, tenants: list[str]) -> dict:
    """One refresh stage; returns its wall time, per-step seconds and the work counts."""
    from knowledge_compiler.pipeline import run_stages

    cpu_before = _cpu_seconds()
    stage = run_stages(defs, instance, tenants, compile_tenants=False, log_level="WARNING")[0]
    if not stage.success:
        raise RuntimeError(f"refresh failed: steps {stage.failed_steps}")
    steps = _step_seconds(stage.result)
    chunks = _metadata(stage.result, "raw/chunks")
    index = _metadata(stage.result, "rag_index")
    return {"total_s": stage.seconds, "cpu_s": _cpu_seconds() - cpu_before,
            "parsed": chunks["files_parsed"],
            "chunks_written": chunks["chunks_written"], "embedded": index["embedded_this_run"],
            "ingest_s": steps.get("ingest_sources", 0.0),
            "dbt_s": sum(s for k, s in steps.items() if k.startswith("routing_models")),
            "index_s": steps.get("rag_index", 0.0),
            "checks_s": sum(s for k, s in steps.items()
                            if k not in ("ingest_sources", "rag_index")
                            and not k.startswith("routing_models"))}


def one_document_change(corpus: Path) -> str:
    """Apply the week-later edit of the status page only; return its path in the corpus."""
    from examples.northwind.build import apply_week_later

    price = corpus / "documents/finance/pricing/price-list.html"
    kept = price.read_bytes(), price.stat()
    change = apply_week_later(corpus)
    # Undo the other two scripted edits (the price list and the git commit).
    price.write_bytes(kept[0])
    os.utime(price, ns=(kept[1].st_atime_ns, kept[1].st_mtime_ns))
    repo = corpus / change["git"]["repo"]
    subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", "HEAD~1"], check=True)
    return change["volatile"]["path"]


def changed_document_chunks(settings, file: Path) -> int:
    """Chunks of the changed document in the warehouse now (what must be re-embedded)."""
    from ingestion.config import source_specs
    from ingestion.warehouse import connect

    spec = next(s for s in source_specs(settings)
                if s.path and file.is_relative_to(s.path.resolve()))
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "select count(*) from raw.chunks c join raw.documents d using (document_id) "
            "where d.source_id = ? and d.path = ?",
            [spec.name, file.relative_to(spec.path.resolve()).as_posix()]).fetchone()[0]


def copy_documents(corpus: Path, copies: int) -> int:
    """Grow the document sources to `copies` times their files: copy k of each file goes under
    ``copy-k/``; text files get a line naming the copy so that no two are the same text (PDF and
    docx copies are byte-identical: parsed again, their chunk embeddings may be cache hits).
    Returns the number of files added."""
    added = 0
    for source in sorted((corpus / "documents").iterdir()):
        files = [f for f in sorted(source.rglob("*")) if f.is_file()]
        for k in range(2, copies + 1):
            for f in files:
                dest = source / f"copy-{k}" / f.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
                if f.suffix in (".md", ".txt", ".html"):
                    stat = dest.stat()
                    with dest.open("a") as handle:
                        handle.write(f"\n\nCopy {k} of {f.name}.\n")
                    os.utime(dest, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                added += 1
    return added


def run(home: Path, copies: int = 1) -> tuple[dict, dict, int]:
    from examples.northwind.build import build_corpus
    from knowledge_compiler.runtime import prepare

    os.environ["KC_HOME"] = str(home)
    build_corpus(home / "northwind")
    if copies > 1:
        copy_documents(home / "northwind", copies)
    config = home / "kc.yaml"
    sample = (ROOT / "examples/northwind/kc.yaml").read_text()
    config.write_text(sample.replace("home: .kc", f"home: {home}"))
    settings = prepare(config)
    import dagster as dg

    from dagster_project.definitions import defs

    with dg.DagsterInstance.get() as instance:
        full = refresh(defs, instance, settings.tenants)
        path = one_document_change(home / "northwind")
        one = refresh(defs, instance, settings.tenants)
    file = (home / "northwind" / path).resolve()
    if copies == 1:
        write_results("refresh_before_after", dbt_before_after(settings), notes=DBT_NOTES)
    return full, one, changed_document_chunks(settings, file)


DBT_NOTES = (
    "The profiled stage: py-spy and cProfile of the one-document refresh put most of its "
    "time in dbt build (133-145 nodes, each reopening the DuckDB file; a full re-parse of the "
    "project on every run because each Dagster run got a fresh target folder; 12 unit tests "
    "that do not read the warehouse). 'before' is that invocation as the dbt asset made it "
    "(fresh target folder seeded with dbt/target/partial_parse.msgpack, target dev: "
    "keep_open false, unit tests included); 'after' is the invocation it makes now (a target "
    "folder kept in the KC home: partial parse; target subprocess: the file stays open; unit "
    "tests skipped while the project and vars are those they passed on). Same warehouse, "
    "same vars, interleaved, best of 2; CPU = user + system time of the dbt process.")


def _dbt(args: list[str], target_path: Path, settings) -> tuple[float, float]:
    """Run the dbt CLI as Dagster's resource does; return (wall, CPU) seconds."""
    import json
    import sys
    import time

    from training.capacity import routing_vars

    env = {**os.environ, "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(target_path),
           "DBT_LOG_FORMAT": "json", "DBT_PROFILES_DIR": str(ROOT / "dbt"),
           "DBT_PROJECT_DIR": str(ROOT / "dbt")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "build", "--vars",
                    json.dumps(routing_vars(settings)), *args], env=env, cwd=ROOT / "dbt",
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def dbt_before_after(settings, repeat: int = 2) -> list[dict]:
    from dagster_project.defs.warehouse.assets import build_args
    from training.capacity import routing_vars

    seed = ROOT / "dbt" / "target" / "partial_parse.msgpack"
    kept = settings.kc_home / "dbt"
    new_args, _ = build_args(routing_vars(settings), kept)
    if "resource_type:unit_test" not in new_args:
        raise RuntimeError("the refreshes before should have recorded passing unit tests")
    before_runs, after_runs = [], []
    for i in range(repeat):
        fresh = settings.kc_home / f"dbt-before-{i}"
        fresh.mkdir()
        if seed.exists():
            shutil.copy(seed, fresh / seed.name)
        before_runs.append(_dbt(["--target", "dev"], fresh, settings))
        after_runs.append(_dbt([*new_args[3:], "--target", "subprocess"], kept / "target",
                               settings))
    rows = []
    for k, label in ((0, "wall"), (1, "CPU")):
        ours, theirs = min(r[k] for r in after_runs), min(r[k] for r in before_runs)
        rows.append(result_row(f"dbt build in a refresh, {label} time (after)", "before the fix",
                               ours, theirs, "s", ours / theirs, "< 1 (faster)", ours < theirs))
    return rows


def rows_for(full: dict, one: dict, doc_chunks: int) -> list[dict]:
    ratio = one["total_s"] / full["total_s"]
    detail = {
        "parsed (one / full)": f"{one['parsed']} / {full['parsed']}",
        "embedded (one / full)": f"{one['embedded']} / {full['embedded']}",
        "changed document's chunks": doc_chunks,
        "cpu_s (one / full)": f"{one['cpu_s']:.1f} / {full['cpu_s']:.1f}",
        **{f"{k} (one / full)": f"{one[k]:.1f} / {full[k]:.1f}"
           for k in ("ingest_s", "dbt_s", "index_s", "checks_s")}}
    return [
        result_row("refresh after one document changed", "full refresh", one["total_s"],
                   full["total_s"], "s", ratio, f"<= {GOAL:.2f}", ratio <= GOAL, **detail),
        result_row("work done by that refresh: parses, embeddings", "1 parse, the document's "
                   "chunks", f"{one['parsed']}, {one['embedded']}", f"1, {doc_chunks}", "count",
                   None, "equal", (one["parsed"], one["embedded"]) == (1, doc_chunks)),
    ]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="use (and keep) this KC home")
    parser.add_argument("--copies", type=int, default=1, help="grow the document sources to "
                        "this many copies of their files (results: incremental_refresh_xN)")
    args = parser.parse_args(argv)
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        measured = run(args.keep, args.copies)
    else:
        with tempfile.TemporaryDirectory(prefix="kc-bench-refresh-") as tmp:
            measured = run(Path(tmp), args.copies)
    rows = rows_for(*measured)
    name = "incremental_refresh" + (f"_x{args.copies}" if args.copies > 1 else "")
    notes = (__doc__ or "") + (f"\nDocument sources grown to {args.copies} copies of their "
                               "files (`--copies`, see `copy_documents`)." if args.copies > 1
                               else "")
    publish(name, rows, notes=notes)
    return rows


if __name__ == "__main__":
    main()
