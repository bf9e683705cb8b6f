"""A hand-written raw warehouse and an in-process dbt runner for the routing models.

The corpus is small enough to read in one sitting; every document stands for one routing case,
named in its ``case`` field. Times are given in days before ``as_of`` (AS_OF unless a test asks
for another), so ages and windows are exact. Tests reach all of it through the ``kc_dbt``
fixture rather than importing this file, which keeps them independent of pytest's import mode.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = REPO_ROOT / "dbt"
SCHEMA_SQL = REPO_ROOT / "ingestion" / "schema.sql"

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def _digest(*parts: str) -> str:
    # The same shape as ingestion/ids.py; the models only need stable, unique hex ids.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def document_id(source_id: str, path: str) -> str:
    return _digest("doc", source_id, path)


@dataclass(frozen=True)
class Source:
    source_id: str
    source_type: str
    tenant: str
    acl_groups: tuple[str, ...]
    route_override: str | None = None


@dataclass(frozen=True)
class Chunk:
    section: str
    text: str
    n_tokens: int


@dataclass(frozen=True)
class Doc:
    source_id: str
    path: str
    case: str
    first_seen_days_ago: float
    # modified_at of each version, oldest first; the last one is the current content.
    version_days_ago: tuple[float, ...]
    chunks: tuple[Chunk, ...] = ()
    # (days ago, lines added, lines removed) of each commit touching the file (git sources).
    commits: tuple[tuple[float, int | None, int | None], ...] = ()
    deleted_days_ago: float | None = None

    @property
    def document_id(self) -> str:
        return document_id(self.source_id, self.path)

    def content_hash(self, version: int) -> str:
        return _digest("content", self.document_id, str(version))


SOURCES = (
    Source("acme-wiki", "documents", "acme", ("acme-staff",)),
    Source("acme-repo", "git", "acme", ("acme-eng",)),
    Source("acme-archive", "documents", "acme", ("acme-staff",), route_override="static"),
    Source("globex-handbook", "documents", "globex", ("globex-all", "globex-hr")),
    Source("initech-notes", "documents", "initech", ("initech-pm",)),
)

PROSE = (
    "Welcome to the team. Please read this guide before your first week and ask your buddy "
    "whenever something is unclear; nobody expects you to know everything on day one."
)

DOCS = (
    Doc(
        "acme-wiki",
        "policies/refunds.md",
        "stable for 200 days, fact-dense",
        first_seen_days_ago=400,
        version_days_ago=(400, 200),
        chunks=(
            Chunk(
                "Refunds > Limits",
                "Refunds up to $1,200.50 are approved within 14 days. Orders above $5,000 need "
                "approval from Finance Director Jane Smith. Error ERR-4021 means the card was "
                "declined; ERR-4022 means the bank timed out. Effective 2025-07-01.",
                60,
            ),
            Chunk(
                "Refunds > Fees",
                "| Plan | Fee | Window |\n|------|----:|--------|\n"
                "| Basic | 2.5% | 30 days |\n| Pro | 1.5% | 60 days |",
                40,
            ),
        ),
    ),
    Doc(
        "acme-wiki",
        "news/weekly-update.md",
        "weekly churn",
        first_seen_days_ago=200,
        version_days_ago=(200, *(2 + 7 * k for k in range(12, -1, -1))),
        chunks=(Chunk("News", "This week: sprint 42 closed with 17 tickets.", 12),),
    ),
    Doc(
        "acme-wiki",
        "drafts/brand-new.md",
        "brand-new",
        first_seen_days_ago=1.2,
        version_days_ago=(1.2,),
        chunks=(Chunk("Draft", "An idea for the offsite, nothing decided yet.", 10),),
    ),
    Doc(
        "acme-wiki",
        "old/removed.md",
        "deleted",
        first_seen_days_ago=300,
        version_days_ago=(300,),
        deleted_days_ago=5,
    ),
    Doc(
        "acme-wiki",
        "guides/onboarding.md",
        "stable, least fact-dense of acme",
        first_seen_days_ago=250,
        version_days_ago=(250, 100),
        chunks=(Chunk("Onboarding", PROSE + " Lunch is at 12.", 80),),
    ),
    Doc(
        "acme-wiki",
        "legal/contract.md",
        "override wins (glob legal/**/*.md excludes)",
        first_seen_days_ago=300,
        version_days_ago=(300,),
        chunks=(Chunk("Contract", "Acme Corp and Globex Ltd agree on 3 terms.", 15),),
    ),
    Doc(
        "acme-repo",
        "README.md",
        "git, stable, first ingested 10 days ago",
        first_seen_days_ago=10,
        version_days_ago=(150,),
        commits=((400, 120, 0), (150, 10, 4)),
        chunks=(
            Chunk(
                "App > Setup",
                "Install with pip install acme-app==2.4.1 and run on port 8080. Requires "
                "Python 3.11 and Postgres 16.",
                30,
            ),
        ),
    ),
    Doc(
        "acme-repo",
        "src/config.py",
        "git, many commits",
        first_seen_days_ago=10,
        version_days_ago=(40,),
        commits=((300, 200, 0), *((40 + 7 * k, 5, 3) for k in range(8))),
        chunks=(Chunk("config.py", "TIMEOUT_S = 30\nRETRIES = 5", 12),),
    ),
    Doc(
        "acme-archive",
        "2019/annual-report.md",
        "source override wins over 'new'",
        first_seen_days_ago=3,
        version_days_ago=(3,),
        chunks=(Chunk("Report", "Revenue grew 12% to $4.2M in 2019.", 14),),
    ),
    Doc(
        "globex-handbook",
        "handbook/pricing.md",
        "stable, dense table",
        first_seen_days_ago=365,
        version_days_ago=(365, 120),
        chunks=(
            Chunk(
                "Pricing",
                "| SKU | Price |\n|---|---|\n| SKU-77 | $19 |\n| SKU-78 | $29 |",
                25,
            ),
        ),
    ),
    Doc(
        "globex-handbook",
        "handbook/history.md",
        "stable, sparse",
        first_seen_days_ago=500,
        version_days_ago=(500,),
        chunks=(Chunk("History", "We started small and kept going.", 40),),
    ),
    Doc(
        "globex-handbook",
        "handbook/faq.md",
        "changed yesterday",
        first_seen_days_ago=300,
        version_days_ago=(300, 1.5),
        chunks=(Chunk("FAQ", "Support answers within 4 hours.", 9),),
    ),
    Doc(
        "globex-handbook",
        "handbook/holidays.md",
        "changed 10 days ago",
        first_seen_days_ago=200,
        version_days_ago=(200, 10),
        chunks=(Chunk("Holidays", "The office closes on December 24, 2026.", 10),),
    ),
    Doc(
        "initech-notes",
        "notes/kickoff.md",
        "brand-new, tenant without static content",
        first_seen_days_ago=0.1,
        version_days_ago=(0.1,),
        chunks=(Chunk("Kickoff", "Kickoff with Bill Lumbergh on 2026-03-02.", 12),),
    ),
)

# A commit may also touch files that are not documents (binary, not selected): they count for
# nothing but must not break the models.
UNINDEXED_CHANGE = ("acme-repo", "assets/logo.png", 150)


def build_fixture_warehouse(path: Path, as_of: datetime = AS_OF) -> Path:
    """Create the raw layer from ingestion/schema.sql at ``path`` and fill it with DOCS."""

    def ago(days: float) -> datetime:
        return as_of - timedelta(days=days)

    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA_SQL.read_text())
        con.execute("begin")
        for source in SOURCES:
            con.execute(
                "insert into raw.sources values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    source.source_id,
                    source.source_type,
                    f"/srv/{source.source_id}",
                    source.tenant,
                    list(source.acl_groups),
                    source.route_override,
                    "f" * 40 if source.source_type == "git" else None,
                    _digest("config", source.source_id),
                    ago(0.05),
                ],
            )
        for doc in DOCS:
            _insert_document(con, doc, ago)
        _insert_commits(con, ago)
        con.execute("commit")
    finally:
        con.close()
    return path


def _insert_document(
    con: duckdb.DuckDBPyConnection, doc: Doc, ago: Callable[[float], datetime]
) -> None:
    current = len(doc.version_days_ago)
    deleted = doc.deleted_days_ago is not None
    con.execute(
        "insert into raw.documents values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            doc.document_id,
            doc.source_id,
            doc.path,
            "code" if doc.path.endswith(".py") else "md",
            doc.path.rsplit("/", 1)[-1],
            None if deleted else doc.content_hash(current),
            ago(doc.first_seen_days_ago),
            deleted,
            ago(doc.deleted_days_ago) if deleted else None,
        ],
    )
    for number, days in enumerate(doc.version_days_ago, start=1):
        # Ingestion sees a file's first content when it first sees the file.
        observed = days if number > 1 else min(days, doc.first_seen_days_ago)
        con.execute(
            "insert into raw.document_versions values (?, ?, ?, ?, ?, ?, ?, 0, 0, '{}')",
            [
                doc.document_id,
                doc.content_hash(number),
                number,
                ago(observed),
                ago(days),
                100 * number,
                len(doc.chunks),
            ],
        )
    if deleted:
        return
    for index, chunk in enumerate(doc.chunks):
        con.execute(
            "insert into raw.chunks values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                _digest("chunk", doc.document_id, doc.content_hash(current), str(index)),
                doc.document_id,
                doc.content_hash(current),
                index,
                chunk.section,
                chunk.text,
                chunk.n_tokens,
                ["NarrativeText"],
            ],
        )


def _insert_commits(con: duckdb.DuckDBPyConnection, ago: Callable[[float], datetime]) -> None:
    changes: dict[float, list[tuple[str, str, int | None, int | None]]] = {}
    for doc in DOCS:
        for days, added, removed in doc.commits:
            changes.setdefault(days, []).append((doc.source_id, doc.path, added, removed))
    source_id, path, days = UNINDEXED_CHANGE
    changes.setdefault(days, []).append((source_id, path, None, None))
    for days, files in sorted(changes.items()):
        sha = _digest("commit", str(days)) + "0" * 16
        con.execute(
            "insert into raw.git_commits values (?, ?, ?, ?, 'Dev One', ?, ?, ?)",
            [
                files[0][0],
                sha,
                ago(days),
                ago(days),
                _digest("author", "dev1"),
                f"change {days}",
                len(files),
            ],
        )
        for file_source, file_path, added, removed in files:
            con.execute(
                "insert into raw.git_file_changes values (?, ?, ?, ?, ?, ?, ?)",
                [
                    file_source,
                    sha,
                    file_path,
                    document_id(file_source, file_path),
                    ago(days),
                    added,
                    removed,
                ],
            )


@dataclass
class DbtRun:
    """One dbt invocation against a fixture warehouse."""

    warehouse: Path
    success: bool
    statuses: dict[str, str] = field(default_factory=dict)
    # Node -> dbt's message, for every node that did not succeed.
    failures: dict[str, str] = field(default_factory=dict)

    def query(self, sql: str) -> list[dict[str, Any]]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            cursor = con.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()


def run_dbt(command: list[str], warehouse: Path, work_dir: Path, dbt_vars: dict) -> DbtRun:
    """Run dbt in-process on the project in dbt/, writing artifacts and logs under work_dir."""
    from dbt.cli.main import dbtRunner

    args = [
        *command,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--vars",
        json.dumps(dbt_vars, default=str),
        "--no-use-colors",
        "--quiet",
    ]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KC_WAREHOUSE", str(warehouse))
        env.setenv("DO_NOT_TRACK", "1")
        env.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        result = dbtRunner().invoke(args)
    if result.exception is not None:
        raise result.exception
    run = DbtRun(warehouse=warehouse, success=result.success)
    for node_result in getattr(result.result, "results", None) or []:
        status = str(node_result.status)
        run.statuses[node_result.node.unique_id] = status
        if status not in ("success", "pass"):
            run.failures[node_result.node.unique_id] = str(node_result.message)
    return run


class DbtKit:
    """What the tests of this folder need, handed out as one fixture."""

    as_of = AS_OF
    docs = DOCS

    def build_warehouse(self, path: Path, as_of: datetime = AS_OF) -> Path:
        return build_fixture_warehouse(path, as_of)

    def run(self, command: list[str], warehouse: Path, work_dir: Path, dbt_vars: dict) -> DbtRun:
        return run_dbt(command, warehouse, work_dir, dbt_vars)


@pytest.fixture(scope="session")
def kc_dbt() -> DbtKit:
    return DbtKit()
