"""The `kc` command line."""

from __future__ import annotations

import argparse
import os
import sys

from settings.config import ConfigError
from settings.offline import apply_offline_defaults

apply_offline_defaults()


def _default_config() -> str:
    return os.environ.get("KC_CONFIG", "kc.yaml")


from knowledge_compiler.commands import (  # noqa: E402
    cmd_ask,
    cmd_audit,
    cmd_doctor,
    cmd_eval,
    cmd_routes,
    cmd_run,
    cmd_search,
    cmd_serve,
    cmd_status,
    cmd_ui,
)
from knowledge_compiler.demo import cmd_demo  # noqa: E402


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

