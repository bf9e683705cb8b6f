"""Deterministic builder of the Northwind sample corpus.

``build_corpus(dest)`` writes ``documents/`` (two tenants, five formats) and ``repos/`` (two
git repositories with 13 months of history) under ``dest``. Every date is computed relative to
``as_of``, so the weekly documents always look freshly edited; given the same ``as_of`` two
builds are byte-identical and have the same commit SHAs.

``apply_week_later(dest)`` then simulates one week passing with a few scripted edits.

CLI: ``python -m examples.northwind.build DEST [--as-of YYYY-MM-DD] [--week-later]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from examples.northwind import docs_engineering, docs_finance, repos
from examples.northwind.context import Ctx, document_mtime, normalize_as_of
from examples.northwind.docmodel import Doc, render_html, render_markdown, render_text
from examples.northwind.docxwriter import render_docx
from examples.northwind.gitutil import commit_file
from examples.northwind.pdfwriter import render_pdf

STATE_FILE = ".corpus.json"
WEEK_LATER_AGE = timedelta(hours=9)  # edits made by apply_week_later are this old at new as_of


@dataclass(frozen=True)
class CorpusManifest:
    root: Path
    as_of: datetime  # tz-aware UTC
    documents: list[str]  # corpus-relative paths of all documents-folder files
    repos: list[str]  # corpus-relative repo dirs, e.g. "repos/platform-api"
    commits: int  # total commits created
    planted_secrets: list[tuple[str, str]]  # (kind, exact secret string), history included
    planted_pii: list[tuple[str, str]]  # (kind "email"|"phone", exact string)


def all_documents(ctx: Ctx) -> list[Doc]:
    return docs_engineering.engineering_docs(ctx) + docs_finance.finance_docs(ctx)


def render(document: Doc, ctx: Ctx) -> bytes:
    """Render a document in the format its file extension names."""
    created = document_mtime(document.path, document.changing, ctx.as_of)
    if document.ext == "md":
        return render_markdown(document).encode()
    if document.ext == "txt":
        return render_text(document).encode()
    if document.ext == "html":
        return render_html(document).encode()
    if document.ext == "pdf":
        return render_pdf(document, created)
    if document.ext == "docx":
        return render_docx(document, created)
    raise ValueError(f"unsupported document format: {document.path}")


def write_document(documents_dir: Path, document: Doc, ctx: Ctx, *, mtime: datetime) -> str:
    target = documents_dir / document.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(render(document, ctx))
    stamp = mtime.timestamp()
    os.utime(target, (stamp, stamp))
    return f"documents/{document.path}"


def _prepare_dest(dest: Path) -> None:
    # Refuse to wipe a non-empty directory we did not create: a typo in DEST must not delete
    # someone's home directory.
    if dest.exists():
        if any(dest.iterdir()) and not (dest / STATE_FILE).exists():
            raise FileExistsError(f"{dest} is not empty and is not a Northwind corpus")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)


def build_corpus(dest: Path, *, as_of: datetime | None = None) -> CorpusManifest:
    dest = Path(dest)
    ctx = Ctx(normalize_as_of(as_of))
    _prepare_dest(dest)

    documents = [
        write_document(
            dest / "documents",
            document,
            ctx,
            mtime=document_mtime(document.path, document.changing, ctx.as_of),
        )
        for document in all_documents(ctx)
    ]
    commits = sum(repos.build_repo(spec, dest / "repos", ctx) for spec in repos.REPOS)

    state = {"as_of": ctx.as_of.isoformat(), "week_later": None}
    (dest / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return CorpusManifest(
        root=dest,
        as_of=ctx.as_of,
        documents=sorted(documents),
        repos=[f"repos/{spec.name}" for spec in repos.REPOS],
        commits=commits,
        planted_secrets=list(ctx.fakes.secrets),
        planted_pii=list(ctx.fakes.pii),
    )


# -- one week later ----------------------------------------------------------------------------


def _rewrite_document(dest: Path, document: Doc, ctx: Ctx, new_as_of: datetime) -> None:
    write_document(dest / "documents", document, ctx, mtime=new_as_of - WEEK_LATER_AGE)


def apply_week_later(dest: Path, *, as_of: datetime | None = None) -> dict:
    """Simulate one week passing: one volatile edit, one static edit and one new commit.

    The documents are re-rendered with the original build context (so nothing else in them
    moves) and get an mtime just before the new as_of.
    """
    dest = Path(dest)
    state = json.loads((dest / STATE_FILE).read_text(encoding="utf-8"))
    if state.get("week_later"):
        # The edits are scripted, not cumulative: a second run would have nothing to change.
        raise RuntimeError(f"{dest}: week-later changes already applied; rebuild the corpus")
    ctx = Ctx(normalize_as_of(datetime.fromisoformat(state["as_of"])))
    new_as_of = normalize_as_of(as_of) if as_of else ctx.as_of + timedelta(days=7)

    eng, fin = docs_engineering, docs_finance
    _rewrite_document(
        dest, eng.service_status(ctx, incident=eng.STATUS_INCIDENT_NEXT), ctx, new_as_of
    )
    _rewrite_document(
        dest, fin.price_list(ctx, fleet_pro_price=fin.FLEET_PRO_PRICE_NEXT), ctx, new_as_of
    )
    git_change = _commit_next_status(dest, ctx, new_as_of)

    state["week_later"] = new_as_of.isoformat()
    (dest / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return {
        "as_of": new_as_of.isoformat(),
        "volatile": {
            "path": f"documents/{eng.STATUS_PAGE}",
            "old": eng.STATUS_INCIDENT,
            "new": eng.STATUS_INCIDENT_NEXT,
            "question": "Which incident is currently open on the Northwind service status page?",
        },
        "static": {
            "path": f"documents/{fin.PRICE_LIST}",
            "old": fin.FLEET_PRO_PRICE,
            "new": fin.FLEET_PRO_PRICE_NEXT,
            "question": "What is the monthly list price of the Fleet Pro plan?",
        },
        "git": git_change,
    }


def _commit_next_status(dest: Path, ctx: Ctx, new_as_of: datetime) -> dict:
    spec = repos.PLATFORM_API
    repo = dest / "repos" / spec.name
    label = "Error budget remaining (30 days)"
    week = repos.N_WEEKS  # the week after the last built one
    old = repos.status_values(spec, week - 1)[label]
    new = repos.status_values(spec, week)[label]
    author = repos.person(spec.rota[-1 % len(spec.rota)])
    sha = commit_file(
        repo,
        "STATUS.md",
        repos.status_md(spec, week, ctx.as_of),
        f"Weekly status for week of {repos.week_start(ctx.as_of, week).date().isoformat()}",
        author=author,
        when=new_as_of - WEEK_LATER_AGE,
    )
    stamp = (new_as_of - WEEK_LATER_AGE).timestamp()
    os.utime(repo / "STATUS.md", (stamp, stamp))
    return {
        "repo": f"repos/{spec.name}",
        "path": "STATUS.md",
        "commit": sha,
        "old": old,
        "new": new,
        "question": "How much error budget does platform-api have left this week?",
    }


# -- CLI -----------------------------------------------------------------------------------------


def _parse_day(text: str) -> datetime:
    return normalize_as_of(datetime.strptime(text, "%Y-%m-%d"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Northwind sample corpus.")
    parser.add_argument("dest", type=Path, help="Output directory (rebuilt if it exists).")
    parser.add_argument("--as-of", type=_parse_day, help="Reference date YYYY-MM-DD (UTC).")
    parser.add_argument(
        "--week-later", action="store_true", help="Also apply the scripted one-week-later edits."
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    manifest = build_corpus(args.dest, as_of=args.as_of)
    summary = (
        f"Built Northwind corpus at {manifest.root}: {len(manifest.documents)} documents, "
        f"{len(manifest.repos)} repos, {manifest.commits} commits, "
        f"{len(manifest.planted_secrets)} planted secrets, as of {manifest.as_of.date()}"
    )
    if args.week_later:
        change = apply_week_later(args.dest)
        summary += f"; week later applied ({change['as_of'][:10]})"
    print(f"{summary} in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
