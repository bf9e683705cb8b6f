"""Serve the stand-in organisation until interrupted (``make demo-github`` starts it).

``python -m examples.github_org.serve --root DIR [--port 8765] [--token-env KC_GITHUB_TOKEN]``
"""

from __future__ import annotations

import argparse
import os
import sys

from examples.github_org.server import GitHubStandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, help="folder for the bare repositories")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token-env", default="KC_GITHUB_TOKEN",
                        help="the environment variable whose value the stand-in accepts")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env)
    if not token:
        sys.stderr.write(f"error: set {args.token_env} (any value: the stand-in accepts only "
                         "that token)\n")
        return 2
    server = GitHubStandIn(args.root, token=token, port=args.port)
    sys.stdout.write(f"GitHub stand-in for organisation northwind at {server.api_url}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
