"""`kc demo`: the sample corpus end to end. The one module outside the tests that imports
`examples/` (the corpus builder)."""

from __future__ import annotations

import argparse
import time

from knowledge_compiler.commands import (
    cmd_ask,
    cmd_routes,
    cmd_run,
    cmd_search,
    print_latest_summaries,
)


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
    from training.routes import qa_counts

    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            counts, notes = qa_counts(con)
    except Exception as exc:  # no qa schema yet: the compile stage was skipped
        if "qa" not in str(exc):
            raise
        return
    print(f"\n{'tenant':<12} {'train':>7} {'eval':>6} {'volatile_eval':>13} {'notes':>6}")
    for tenant, c in sorted(counts.items()):
        print(f"{tenant:<12} {c.get('train', 0):>7} {c.get('eval', 0):>6} "
              f"{c.get('volatile_eval', 0):>13} {notes.get(tenant, 0):>6}")
