"""The `kc` command line."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

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

MAX_QUERY_CHARS = 2000  # a question, not a document: the model's window holds ~8k tokens
MAX_K = 100


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (`kc ask: error: ...`), exit status 2, before anything loads."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def query_text(value: str) -> str:
    """A search query or question: not blank, at most MAX_QUERY_CHARS characters."""
    if not value.strip():
        raise argparse.ArgumentTypeError("the query is empty")
    if len(value) > MAX_QUERY_CHARS:
        raise argparse.ArgumentTypeError(f"the query is {len(value):,} characters; at most "
                                         f"{MAX_QUERY_CHARS:,} are accepted")
    return value


def top_k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_K}, not {k}")
    return k


def positive_tokens(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


ARMS_HELP = """\
arms (--arm); each answers with the tenant's @champion adapter unless it says otherwise:
  hybrid        (default) the adapter, reading the retrieved volatile and overflow chunks
                when retrieval agrees with the question; otherwise from its weights
  compiled      the adapter alone, closed-book: what training put into the weights
  rag           the adapter reading the top-k retrieved chunks
  full_context  the adapter reading as much of the tenant's corpus as fits its window
  base          the base model alone, no adapter and no retrieval (the baseline)

Loading the model takes most of a `kc ask` (the line after the answer shows load and answer
times apart); `kc serve` keeps the models loaded and answers in the answer time alone."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="kc", description=__doc__)
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
    find.add_argument("query", type=query_text,
                      help=f"what to search for (1 to {MAX_QUERY_CHARS:,} characters)")
    find.add_argument("--user", required=True, help="a user declared in kc.yaml `users`")
    find.add_argument("--mode", choices=["vector", "fts", "hybrid"],
                      help="default: kc.yaml retrieval.mode")
    find.add_argument("--route", choices=["volatile", "static", "overflow"])
    find.add_argument("-k", type=top_k, help=f"hits to show, 1 to {MAX_K} "
                                             "(default: kc.yaml retrieval.top_k)")
    _verbose(find)
    find.set_defaults(func=cmd_search)
    ask = sub.add_parser("ask", help="answer a question as a user (champion adapter + index)",
                         epilog=ARMS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    ask.add_argument("question", type=query_text,
                     help=f"the question (1 to {MAX_QUERY_CHARS:,} characters)")
    ask.add_argument("--user", required=True, help="a user declared in kc.yaml `users`")
    ask.add_argument("--tenant", help="needed when the user may read several tenants")
    ask.add_argument("--arm", default="hybrid",
                     choices=["hybrid", "compiled", "rag", "full_context", "base"],
                     help="how to answer (default: hybrid); each arm is explained below")
    ask.add_argument("--max-new-tokens", type=positive_tokens, default=48,
                     help="longest answer in tokens (default 48)")
    _verbose(ask)
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


def _verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the libraries' progress bars and warnings (hidden by default)")


def quiet_libraries() -> None:
    """No progress bars ("Loading weights") and no library warnings: set before the model
    libraries are imported (they read these once)."""
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.simplefilter("ignore")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", True) is False:
        quiet_libraries()
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

