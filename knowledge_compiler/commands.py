"""The `kc` commands (`knowledge_compiler.cli` parses the arguments): each loads kc.yaml, calls
the libraries (or, for `kc run` and `kc eval`, the Dagster graph through `pipeline`) and prints."""

from __future__ import annotations

import argparse
import sys
import time


def cmd_run(args: argparse.Namespace) -> int:
    """Refresh (ingest → dbt → index), then compile each tenant, through Dagster in-process."""
    from knowledge_compiler.runtime import prepare, run_lock

    settings = prepare(args.config)
    with run_lock(settings.kc_home):
        return _run_locked(args, settings)


def _run_locked(args: argparse.Namespace, settings) -> int:
    from knowledge_compiler.pipeline import StageResult, run_all

    print(f"kc run: {len(settings.sources)} sources, {len(settings.tenants)} tenants, "
          f"warehouse {settings.warehouse_path}")
    started = time.perf_counter()

    def report(stage: StageResult) -> None:
        if stage.success:
            print(f"kc run: {stage.name} done in {stage.seconds:.1f} s (run {stage.run_id})")
        else:
            print(f"kc run: {stage.name} FAILED after {stage.seconds:.1f} s (steps: "
                  f"{', '.join(stage.failed_steps) or 'unknown'}); see `kc status` and the "
                  "Dagster UI (`kc ui`)", file=sys.stderr)

    stages = run_all(settings, log_level=args.log_level,
                     compile_tenants=not getattr(args, "refresh_only", False), on_stage=report)
    if not all(s.success for s in stages):
        return 1
    print(f"kc run: done in {time.perf_counter() - started:.1f} s")
    return cmd_status(args)


def cmd_status(args: argparse.Namespace) -> int:
    """Counts per raw table and the current ingest failures."""
    from ingestion.run_failures import recent_failures
    from ingestion.warehouse import connect, ingest_failures, source_summary, table_counts
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    path = settings.warehouse_path
    if not path.exists():
        print(f"no warehouse yet at {path}: run `kc run`")
        return 0
    with connect(path, read_only=True) as con:
        counts, per_source = table_counts(con), source_summary(con)
        failures = ingest_failures(con)
    print("\nwarehouse tables (rows): " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"\n{'source':<20} {'type':<10} {'tenant':<14} {'docs':>6} {'chunks':>7} {'failed':>7}")
    for row in per_source:
        print(f"{row[0]:<20} {row[1]:<10} {row[2]:<14} {row[3]:>6} {row[4]:>7} {row[5]:>7}")
    if failures:
        print(f"\ningest failures ({len(failures)}):")
        for source, path, cls, reason in failures:
            print(f"  {source}: {path!r}: {cls}: {reason}")
    else:
        print("\ningest failures: none")
    runs = recent_failures(settings.kc_home, limit=5)
    if runs:
        print(f"\nrecent failed runs ({len(runs)}):")
        for run in runs:
            print(f"  {run['failed_at']} {run['job_name']} {run['run_id'][:8]}: "
                  f"{', '.join(run['step_keys'] or [])}: {(run['message'] or '')[:160]}")
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    """The routing table: where each document went and why."""
    from ingestion.warehouse import connect
    from knowledge_compiler.runtime import prepare
    from training.routes import capacity_budgets, document_routes

    settings = prepare(args.config)
    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            rows = document_routes(con, args.tenant, args.route)
            budget = capacity_budgets(con, args.tenant)
    except FileNotFoundError:
        print(f"no warehouse yet at {settings.warehouse_path}: run `kc run`")
        return 1
    except Exception as exc:
        if "document_routes" not in str(exc):
            raise
        print("no routes yet: run `kc run` (the dbt step builds marts.document_routes)")
        return 1
    print(f"{'tenant':<12} {'route':<9} {'source':<16} {'path':<48} reason")
    for tenant, route, source, path, reason in rows:
        print(f"{tenant:<12} {route:<9} {source:<16} {path[:48]:<48} {reason}")
    print(f"\n{len(rows)} documents")
    print(f"\n{'tenant':<12} {'static':>6} {'volatile':>8} {'overflow':>8} {'excluded':>8} "
          f"{'fact-bits used / capacity':>26} {'retrieval $':>11} {'compile $':>9}")
    for t, st, vo, ov, ex, used, cap, rc, cc in budget:
        print(f"{t:<12} {st:>6} {vo:>8} {ov:>8} {ex:>8} {f'{used:,.0f} / {cap:,.0f}':>26} "
              f"{rc:>11.3f} {cc:>9.3f}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Hits for a query that the user may read, with source, route and score."""
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    from retrieval.access import Principal
    from retrieval.embedder import embedder_for
    from retrieval.index import ChunkIndex
    from retrieval.search import search

    principal = Principal(user=args.user, groups=frozenset(settings.user_groups(args.user)),
                          tenants=frozenset(settings.user_tenants(args.user)))
    embedder = embedder_for(settings)
    if not (settings.index_path / "chunks.lance").exists():
        print(f"no index yet at {settings.index_path}: run `kc run`")
        return 1
    index = ChunkIndex(settings.index_path, embedder)
    started = time.perf_counter()
    mode = args.mode or settings.retrieval.mode
    hits = search(index, args.query, principal, k=args.k or settings.retrieval.top_k, mode=mode,
                  routes={args.route} if args.route else None)
    elapsed = time.perf_counter() - started
    print(f"{len(hits)} hits for {args.user} (groups {', '.join(sorted(principal.groups))}; "
          f"{mode}, {elapsed * 1000:.0f} ms)")
    for rank, hit in enumerate(hits, 1):
        text = " ".join(hit.text.split())
        print(f"\n{rank}. [{hit.score:.3f}] {hit.source_id}:{hit.path}  ({hit.route}, "
              f"{hit.tenant})\n   {hit.section or ''}\n   {text[:240]}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer with the champion adapter of the user's tenant and their permitted chunks."""
    started = time.perf_counter()  # loading: the imports, the index and the model
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    from answering import ArmSettings, NoChampion, stream_question, tenant_model
    from retrieval.access import Principal
    from retrieval.embedder import embedder_for
    from retrieval.index import ChunkIndex

    tenants = settings.user_tenants(args.user)
    tenant = args.tenant or (tenants[0] if len(tenants) == 1 else None)
    if tenant is None or tenant not in tenants:
        print(f"kc ask: user {args.user} may read tenants {tenants}; pick one with --tenant",
              file=sys.stderr)
        return 2
    principal = Principal(user=args.user, groups=frozenset(settings.user_groups(args.user)),
                          tenants=frozenset({tenant}))
    index = ChunkIndex(settings.index_path, embedder_for(settings))
    try:
        bundle = tenant_model(settings, tenant, args.arm)
    except NoChampion as exc:
        print(f"kc ask: {exc}", file=sys.stderr)
        return 1
    reply, pieces = stream_question(args.question, args.arm, bundle, index=index,
                                    principal=principal,
                                    settings=ArmSettings(k=settings.evaluation.k,
                                                         max_new_tokens=args.max_new_tokens))
    print("answer: ", end="", flush=True)
    for piece in pieces:
        print(piece, end="", flush=True)
    print()
    total = time.perf_counter() - started
    print(f"arm: {reply.arm} (model {bundle.name}); {reply.prompt_tokens} prompt tokens; "
          f"answer {reply.latency_s:.1f} s, loading {max(total - reply.latency_s, 0):.1f} s "
          "(`kc serve` keeps the model loaded)")
    for c in reply.citations:
        print(f"  cited: {c['source_id']}:{c['path']} ({c['route']})  {c.get('section') or ''}")
    if not reply.citations and args.arm in ("hybrid", "rag", "full_context"):
        print("  (no context added: answered from the weights)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the evaluation of each tenant (the evaluation assets) and print the summary."""
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    from knowledge_compiler.pipeline import evaluate_all

    stages = evaluate_all(settings)
    failed = [s.name for s in stages if not s.success]
    if failed:
        print(f"kc eval: {', '.join(failed)} failed; see `kc status`", file=sys.stderr)
        return 1
    return print_latest_summaries(settings)


def print_latest_summaries(settings) -> int:
    import json

    reports = sorted(settings.reports_path.glob("*/summary.md")) if \
        settings.reports_path.exists() else []
    latest: dict[str, object] = {}
    for md in reports:
        latest[md.parent.name.split("-", 1)[-1]] = md
    for tenant, md in sorted(latest.items()):
        print(f"\n## {tenant}  ({md.parent / 'index.html'})\n")
        print(md.read_text())
        summary = json.loads((md.parent / "summary.json").read_text())
        print(f"gain recovery: {summary.get('gain_recovery')}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the environment: offline parsing of every format, imports that must work."""
    del args
    from ingestion.parsing import ParserWorker, run_selfcheck

    with ParserWorker(60, 4096, selfcheck=False) as worker:
        counts = run_selfcheck(worker)
    print("parser self-check: " + ", ".join(f"{k}={v} elements" for k, v in counts.items()))
    import peft  # noqa: F401  (a CUDA torchvision beside the CPU torch breaks these imports)
    import trl  # noqa: F401

    print("imports: trl, peft ok")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Privacy and reliability figures as one table; exit 1 when a figure misses its goal."""
    from knowledge_compiler.audit import audit_and_report, format_table

    rows, path = audit_and_report(args.config, args.probe)
    print(format_table(rows))
    failed = sum(r["passed"] is False for r in rows)
    print(f"\nkc audit: {len(rows)} figures, {failed} failed; written to {path}")
    return 1 if failed else 0


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI and the MLflow UI on localhost, stopped together by Ctrl-C."""
    from knowledge_compiler.ui import run_ui_forever

    return run_ui_forever(args.config, dagster_port=args.dagster_port,
                          mlflow_port=args.mlflow_port, host="127.0.0.1")


def cmd_serve(args: argparse.Namespace) -> int:
    """The OpenAI-compatible endpoint: each tenant's champion adapter over one base model."""
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    from knowledge_compiler.serve import run

    run(settings, host=args.host, port=args.port)
    return 0
