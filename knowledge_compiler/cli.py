"""The `kc` command line."""

from __future__ import annotations

import argparse
import os
import sys
import time

from settings.offline import apply_offline_defaults
from settings.config import ConfigError

apply_offline_defaults()


def _default_config() -> str:
    return os.environ.get("KC_CONFIG", "kc.yaml")


def cmd_run(args: argparse.Namespace) -> int:
    """Refresh (ingest → dbt → index), then compile each tenant, through Dagster in-process."""
    from knowledge_compiler.runtime import prepare, run_lock

    settings = prepare(args.config)
    with run_lock(settings.kc_home):
        return _run_locked(args, settings)


def _run_locked(args: argparse.Namespace, settings) -> int:
    import dagster as dg

    from dagster_project.definitions import defs
    from knowledge_compiler.pipeline import StageResult, run_stages

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

    with dg.DagsterInstance.get() as instance:
        stages = run_stages(defs, instance, settings.tenants, log_level=args.log_level,
                            compile_tenants=not getattr(args, "refresh_only", False),
                            parallel_tenants=settings.training.parallel_tenants,
                            on_stage=report)
        failed = [s for s in stages if not s.success]
        if failed:
            # In-process runs bypass the run-failure sensor: record them where `kc status` looks.
            from dagster_project.defs.automation.failures import record_failure
            from dagster_project.defs.automation.sensors import failure_for_run

            record_failure(failure_for_run(instance, failed[0].run_id), settings.kc_home)
            return 1
    print(f"kc run: done in {time.perf_counter() - started:.1f} s")
    return cmd_status(args)


def cmd_status(args: argparse.Namespace) -> int:
    """Counts per raw table and the current ingest failures."""
    from ingestion.warehouse import connect, table_counts
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    path = settings.warehouse_path
    if not path.exists():
        print(f"no warehouse yet at {path}: run `kc run`")
        return 0
    with connect(path, read_only=True) as con:
        counts = table_counts(con)
        per_source = con.execute("""
            select s.source_id, s.source_type, s.tenant,
                   count(distinct d.document_id) filter (where not d.is_deleted),
                   (select count(*) from raw.chunks c join raw.documents d2 using (document_id)
                    where d2.source_id = s.source_id),
                   (select count(*) from raw.ingest_failures f where f.source_id = s.source_id)
            from raw.sources s left join raw.documents d using (source_id)
            group by all order by 1""").fetchall()
        failures = con.execute("select source_id, path, exception_class, reason "
                               "from raw.ingest_failures order by 1, 2").fetchall()
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
    from dagster_project.defs.automation.failures import recent_failures

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

    settings = prepare(args.config)
    where, params = ["true"], []
    if args.tenant:
        where.append("tenant = ?")
        params.append(args.tenant)
    if args.route:
        where.append("route = ?")
        params.append(args.route)
    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            rows = con.execute(
                "select tenant, route, source_id, path, reason from marts.document_routes "
                f"where {' and '.join(where)} order by tenant, route, source_id, path",
                params).fetchall()
            budget = con.execute(
                "select tenant, static_documents, volatile_documents, overflowed_documents, "
                "excluded_documents, used_fact_bits, capacity_bits, retrieval_cost_usd, "
                "compile_cost_usd from marts.capacity_budget order by tenant").fetchall()
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
    from retrieval.embedder import HashingEmbedder, SentenceTransformerEmbedder
    from retrieval.index import ChunkIndex
    from retrieval.search import search

    principal = Principal(user=args.user, groups=frozenset(settings.user_groups(args.user)),
                          tenants=frozenset(settings.user_tenants(args.user)))
    if os.environ.get("KC_EMBEDDER") == "hashing":
        embedder = HashingEmbedder(dim=64)
    else:
        path = settings.embedder_path()
        embedder = SentenceTransformerEmbedder(model_path=path,
                                               threads=settings.retrieval.embed_threads)
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
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    from evaluation.arms import AnsweringModel, ArmSettings, stream_question
    from retrieval.access import Principal
    from retrieval.embedder import HashingEmbedder, SentenceTransformerEmbedder
    from retrieval.index import ChunkIndex
    from training import registry
    from training.loading import load_registered

    tenants = settings.user_tenants(args.user)
    tenant = args.tenant or (tenants[0] if len(tenants) == 1 else None)
    if tenant is None or tenant not in tenants:
        print(f"kc ask: user {args.user} may read tenants {tenants}; pick one with --tenant",
              file=sys.stderr)
        return 2
    principal = Principal(user=args.user, groups=frozenset(settings.user_groups(args.user)),
                          tenants=frozenset({tenant}))
    embedder = (HashingEmbedder(dim=64) if os.environ.get("KC_EMBEDDER") == "hashing"
                else SentenceTransformerEmbedder(model_path=settings.embedder_path(),
                                                 threads=settings.retrieval.embed_threads))
    index = ChunkIndex(settings.index_path, embedder)
    registry.Tracking.local(settings.kc_home).activate()
    name = registry.registered_name(tenant)
    if args.arm != "base" and registry.champion_version(name) is not None:
        # One model for every arm: the champion adapter remembers and reads.
        model, tok = load_registered(f"models:/{name}@{registry.CHAMPION}")
        bundle = AnsweringModel(model=model, tokenizer=tok, window=_window(model), name=name)
    elif args.arm in ("compiled", "hybrid"):
        print(f"kc ask: no champion model for tenant {tenant} yet: run `kc run`",
              file=sys.stderr)
        return 1
    else:
        from training.compile_inputs import base_for

        bundle = AnsweringModel.load(base_for(settings)[1], name=settings.model.base)
    reply, pieces = stream_question(args.question, args.arm, bundle, index=index,
                                    principal=principal,
                                    settings=ArmSettings(k=settings.evaluation.k,
                                                         max_new_tokens=args.max_new_tokens))
    print("answer: ", end="", flush=True)
    for piece in pieces:
        print(piece, end="", flush=True)
    print()
    print(f"arm: {reply.arm} (model {bundle.name}); {reply.prompt_tokens} prompt tokens; "
          f"{reply.latency_s * 1000:.0f} ms")
    for c in reply.citations:
        print(f"  cited: {c['source_id']}:{c['path']} ({c['route']})  {c.get('section') or ''}")
    if not reply.citations and args.arm in ("hybrid", "rag", "full_context"):
        print("  (no context added: answered from the weights)")
    return 0


def _window(model) -> int:
    from evaluation.arms import model_window

    return model_window(model)


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the evaluation of each tenant (the evaluation assets) and print the summary."""
    from knowledge_compiler.runtime import prepare

    settings = prepare(args.config)
    import dagster as dg

    from dagster_project.definitions import defs
    from knowledge_compiler.pipeline import run_stages

    with dg.DagsterInstance.get() as instance:
        stages = run_stages(defs, instance, settings.tenants, refresh=False,
                            compile_selection=dg.AssetSelection.assets("evaluation_report"),
                            log_level="WARNING")
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


def cmd_demo(args: argparse.Namespace) -> int:
    """The sample corpus end to end: build, refresh + compile, routes, QA counts, evaluation
    table; then "one week later": a volatile and a static fact change, a refresh, and
    `kc ask` serving the new volatile value with its citation."""
    from knowledge_compiler.runtime import prepare

    started = time.perf_counter()
    settings = prepare(args.config)
    from examples.northwind.build import apply_week_later, build_corpus

    corpus = settings.kc_home / "northwind"
    manifest = build_corpus(corpus)
    print(f"kc demo: built the sample corpus at {corpus}: {len(manifest.documents)} documents, "
          f"{len(manifest.repos)} repositories, {manifest.commits} commits")
    if args.with_bad_inputs:
        from examples.bad_inputs import make_bad_corpus

        bad = make_bad_corpus(corpus / "documents" / "engineering" / "_bad_inputs")
        print(f"kc demo: added {len(bad)} hostile files under documents/engineering/_bad_inputs")
    args.refresh_only = args.skip_compile
    status = cmd_run(args)
    if status != 0:
        return status
    args.tenant, args.route = None, None
    print()
    cmd_routes(args)
    _print_qa_counts(settings)
    if not args.skip_compile:
        print_latest_summaries(settings)
    change = apply_week_later(corpus)
    volatile = change["volatile"]
    print(f"\nkc demo: one week later: {volatile['path']}: {volatile['old']} -> "
          f"{volatile['new']}; {change['static']['path']}: {change['static']['old']} -> "
          f"{change['static']['new']}")
    args.refresh_only = True
    status = cmd_run(args)
    if status != 0:
        return status
    user = next(u for u, cfg in settings.users.items() if cfg.groups == ["engineering"])
    if args.skip_compile:  # no model to answer with: show what retrieval now serves
        print(f"\n$ kc search {volatile['question']!r} --user {user} --route volatile -k 2")
        cmd_search(argparse.Namespace(config=args.config, query=volatile["question"], user=user,
                                      mode=None, route="volatile", k=2))
    else:
        print(f"\n$ kc ask {volatile['question']!r} --user {user} --arm rag")
        cmd_ask(argparse.Namespace(config=args.config, question=volatile["question"],
                                   user=user, tenant=None, arm="rag", max_new_tokens=48))
    print(f"\nkc demo: done in {(time.perf_counter() - started) / 60:.1f} min. Reports: "
          f"{settings.reports_path}; Dagster and MLflow UIs: `kc --config {args.config} ui` "
          "(http://127.0.0.1:3000, http://127.0.0.1:5000)")
    return 0


def _print_qa_counts(settings) -> None:
    from ingestion.warehouse import connect

    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            rows = con.execute("select tenant, split, count(*) from qa.pairs where not "
                               "superseded group by all order by all").fetchall()
            notes = dict(con.execute("select tenant, count(*) from qa.notes group by 1"
                                     ).fetchall())
    except Exception as exc:  # no qa schema yet: the compile stage was skipped
        if "qa" not in str(exc):
            raise
        return
    counts: dict[str, dict[str, int]] = {}
    for tenant, split, n in rows:
        counts.setdefault(tenant, {})[split] = n
    print(f"\n{'tenant':<12} {'train':>7} {'eval':>6} {'volatile_eval':>13} {'notes':>6}")
    for tenant, c in sorted(counts.items()):
        print(f"{tenant:<12} {c.get('train', 0):>7} {c.get('eval', 0):>6} "
              f"{c.get('volatile_eval', 0):>13} {notes.get(tenant, 0):>6}")


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the environment: offline parsing of every format, imports that must work."""
    del args
    from ingestion.parsing import ParserWorker
    from ingestion.selfcheck import run_selfcheck

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kc", description=__doc__)
    parser.add_argument("--config", default=_default_config(),
                        help="path to kc.yaml (default: $KC_CONFIG or ./kc.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="ingest and build everything defined, through Dagster")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    run.add_argument("--refresh-only", action="store_true",
                     help="ingest, route and index only; skip the per-tenant compile")
    run.set_defaults(func=cmd_run)
    sub.add_parser("status", help="row counts and ingest failures").set_defaults(func=cmd_status)
    demo = sub.add_parser("demo", help="build the sample corpus and run the pipeline on it")
    demo.add_argument("--with-bad-inputs", action="store_true",
                      help="add the hostile-file corpus to show quarantining")
    demo.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    demo.add_argument("--skip-compile", action="store_true",
                      help="ingest, route, index and synthesize only; no training")
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("doctor", help="offline parser self-check").set_defaults(func=cmd_doctor)
    routes = sub.add_parser("routes", help="where each document went (retrieve or compile), why")
    routes.add_argument("--tenant")
    routes.add_argument("--route", choices=["volatile", "static", "overflow", "excluded"])
    routes.set_defaults(func=cmd_routes)
    find = sub.add_parser("search", help="search the index as a user (ACL-filtered)")
    find.add_argument("query")
    find.add_argument("--user", required=True, help="a user declared in kc.yaml `users`")
    find.add_argument("--mode", choices=["vector", "fts", "hybrid"])
    find.add_argument("--route", choices=["volatile", "static", "overflow"])
    find.add_argument("-k", type=int)
    find.set_defaults(func=cmd_search)
    ask = sub.add_parser("ask", help="answer a question as a user (champion adapter + index)")
    ask.add_argument("question")
    ask.add_argument("--user", required=True)
    ask.add_argument("--tenant", help="needed when the user may read several tenants")
    ask.add_argument("--arm", default="hybrid",
                     choices=["hybrid", "compiled", "rag", "base", "full_context"],
                     help="hybrid (default): the tenant's adapter, reading retrieved volatile "
                          "and overflow chunks when retrieval agrees; compiled: the adapter, "
                          "closed-book; rag: the adapter reading the top-k chunks; "
                          "full_context: the adapter reading as much of the corpus as fits; "
                          "base: the base model alone")
    ask.add_argument("--max-new-tokens", type=int, default=48,
                     help="longest answer in tokens (default 48)")
    ask.set_defaults(func=cmd_ask)
    sub.add_parser("eval", help="evaluate every tenant and print arms x question sets"
                   ).set_defaults(func=cmd_eval)
    audit = sub.add_parser("audit", help="privacy and reliability figures, as one table")
    audit.add_argument("--probe", action="append", help="run only this probe (repeatable)")
    audit.set_defaults(func=cmd_audit)
    serve = sub.add_parser("serve", help="serve the tenants' models over an OpenAI-compatible "
                           "HTTP API (docs/serving.md)")
    serve.add_argument("--host", help="interface to listen on (default: serve.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: serve.port, 8000)")
    serve.set_defaults(func=cmd_serve)
    ui = sub.add_parser("ui", help="start the Dagster and MLflow UIs on localhost")
    ui.add_argument("--dagster-port", type=int, default=3000)
    ui.add_argument("--mlflow-port", type=int, default=5000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"kc: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from ingestion.warehouse import WarehouseLocked
        from knowledge_compiler.runtime import RunLocked

        if isinstance(exc, WarehouseLocked | RunLocked):
            print(f"kc: {exc}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())

