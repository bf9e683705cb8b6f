"""Histories of the two sample repositories, relative to ``as_of``.

Week ``i`` runs from 0 (oldest) to ``N_WEEKS - 1`` (the week ending just before as_of).
Weekly values are computed from ``k = N_WEEKS - 1 - i`` (weeks before the latest one) so the
state at HEAD does not depend on as_of: only the dates move. ``i == N_WEEKS`` is the extra
week that ``apply_week_later`` adds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from examples.northwind import repo_files as rf
from examples.northwind.context import Ctx
from examples.northwind.fakes import EMAIL_DOMAIN
from examples.northwind.gitutil import Commit, import_history

N_WEEKS = 58  # 58 weeks + the initial import is a little over 13 months of history

# Times within a week (days after the week start, hour, minute). The week start of the latest
# week is as_of - 6 days, so every weekly file was changed 1 to 6 days before as_of.
ONCALL_AT = (0, 9, 15)
FEATURE_AT = (1, 11, 20)
RELEASE_AT = (2, 14, 30)
STATUS_AT = (4, 16, 45)


def person(name: str) -> tuple[str, str]:
    return name, f"{'.'.join(name.lower().split())}@{EMAIL_DOMAIN}"


@dataclass(frozen=True)
class RepoSpec:
    name: str
    tenant: str
    title: str
    rota: tuple[str, ...]
    escalation: str
    pager: str
    maintainers: tuple[str, ...]
    changes: tuple[str, ...]  # changelog lines, cycled


PLATFORM_API = RepoSpec(
    name="platform-api",
    tenant="engineering",
    title="platform-api",
    rota=("Jonas Weber", "Elena Petrova", "Owen Gallagher", "Aisha Bello", "Tomasz Nowak"),
    escalation="Tomasz Nowak (SRE Lead)",
    pager="platform-api-prod",
    maintainers=("Mei Lin Chen", "Aisha Bello", "Kwame Mensah"),
    changes=(
        "Faster solver warm start for repeated depots",
        "Fix pagination cursor expiry off-by-one",
        "Add X-RateLimit-Remaining to 429 responses",
        "Reduce webhook retry jitter",
        "Upgrade Envoy sidecar",
        "Clearer message for RO-4001 errors",
        "Cache depot geocodes",
        "Fix time-window validation for overnight routes",
        "Expose gRPC health service",
        "Trim noisy access log fields",
        "Validate vehicle capacity units",
    ),
)

BILLING_SERVICE = RepoSpec(
    name="billing-service",
    tenant="finance",
    title="billing-service",
    rota=("Rahul Desai", "Samira Khan", "Tom Becker", "Fatima Zahra"),
    escalation="Benjamin Cohen (Billing Operations)",
    pager="billing-prod",
    maintainers=("Rahul Desai", "Samira Khan", "Benjamin Cohen"),
    changes=(
        "Retry declined cards with exponential backoff",
        "Fix proration for mid-month upgrades",
        "Add PLN invoices",
        "Speed up invoice PDF rendering",
        "Handle TaxBridge timeouts gracefully",
        "Send dunning emails in the customer's language",
        "Fix rounding of zero-rated lines",
        "Add credit note export",
        "Batch ledger events to LedgerPoint",
    ),
)


def week_start(as_of: datetime, i: int) -> datetime:
    k = N_WEEKS - 1 - i
    return as_of - timedelta(days=7 * k + 6)


def at(as_of: datetime, i: int, slot: tuple[int, int, int]) -> datetime:
    days, hour, minute = slot
    return week_start(as_of, i) + timedelta(days=days, hours=hour, minutes=minute)


# -- weekly files ----------------------------------------------------------------------------


def version(spec: RepoSpec, i: int) -> str:
    if spec is PLATFORM_API:
        return f"2.{(i + 8) // 4}.{(i + 8) % 4}"
    return f"1.{(i + 2) // 5}.{(i + 2) % 5}"


def oncall_md(spec: RepoSpec, i: int, as_of: datetime) -> str:
    k = N_WEEKS - 1 - i
    primary, secondary = spec.rota[k % len(spec.rota)], spec.rota[(k + 1) % len(spec.rota)]
    return (
        f"# {spec.title} on-call\n\n"
        f"Week of {week_start(as_of, i).date().isoformat()} (handoff Mondays 09:00 UTC)\n\n"
        "| Role | Engineer |\n| --- | --- |\n"
        f"| Primary | {primary} |\n| Secondary | {secondary} |\n\n"
        f"Escalation: {spec.escalation}. Pager service: {spec.pager}.\n"
    )


def status_values(spec: RepoSpec, i: int) -> dict[str, str]:
    """The numbers reported in STATUS.md for week ``i`` (pseudo-random but fixed per k)."""
    k = N_WEEKS - 1 - i
    if spec is PLATFORM_API:
        return {
            "Overall health": "AMBER" if k % 4 == 1 else "GREEN",
            "Error budget remaining (30 days)": f"{50 + (k + 3) * 37 % 47}.{(k + 7) * 13 % 10}%",
            "p95 latency (public API)": f"{350 + (k + 5) * 53 % 140} ms",
            "Deploys this week": str(6 + k * 7 % 9),
        }
    return {
        "Overall health": "AMBER" if k % 5 == 2 else "GREEN",
        "Payment success rate": f"{96 + (k + 2) * 7 % 3}.{(k + 4) * 17 % 10}%",
        "Invoices generated this week": f"{1800 + (k + 1) * 263 % 900:,}",
        "Failed payments queued for retry": str(20 + (k + 6) * 11 % 40),
    }


def status_md(spec: RepoSpec, i: int, as_of: datetime) -> str:
    k = N_WEEKS - 1 - i
    reporter = spec.rota[k % len(spec.rota)]
    lines = [f"- {label}: {value}" for label, value in status_values(spec, i).items()]
    return (
        f"# {spec.title} weekly status\n\n"
        f"Week of {week_start(as_of, i).date().isoformat()}. Reported by {reporter}.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def changelog_md(spec: RepoSpec, i: int, as_of: datetime) -> str:
    entries = []
    for week in range(i, -1, -1):
        released = at(as_of, week, RELEASE_AT).date().isoformat()
        first = spec.changes[week % len(spec.changes)]
        second = spec.changes[(week * 3 + 1) % len(spec.changes)]
        entries.append(f"## [{version(spec, week)}] - {released}\n\n- {first}\n- {second}\n")
    return f"# Changelog: {spec.title}\n\n" + "\n".join(entries)


def settings_yaml(spec: RepoSpec, i: int, ctx: Ctx) -> str:
    k = N_WEEKS - 1 - i
    f = ctx.fakes
    if spec is PLATFORM_API:
        return (
            "# platform-api production settings; bumped with every release.\n"
            f'release: "{version(spec, i)}"\n'
            "server:\n  port: 8443\n  workers: 8\n  request_timeout_seconds: 30\n"
            "features:\n"
            f"  new_solver_rollout_percent: {(i * 7) % 95 + 5}\n"
            f"  route_cache_ttl_minutes: {(15, 30, 45, 60)[k % 4]}\n"
            "database:\n"
            "  host: pg-routes-prod.northwind.internal\n"
            "  user: platform_api\n"
            f"  password: {f.password('repo-platform-api-db')}\n"
        )
    url = f.database_url(
        "repo-billing-db", "billing_app", "db-billing-prod.northwind.internal", "billing"
    )
    return (
        "# billing-service production settings; bumped with every release.\n"
        f'release: "{version(spec, i)}"\n'
        "invoicing:\n  run_day_of_month: 1\n  batch_size: 500\n"
        f"fx:\n  provider: OpenRates\n  refresh_minutes: {(30, 15, 60)[k % 3]}\n"
        f"database:\n  url: {url}\n"
        "smtp:\n  host: smtp.northwind.internal\n  username: billing-mailer\n"
        f"  password: {f.password('repo-billing-smtp')}\n"
    )


def weekly_commits(spec: RepoSpec, i: int, ctx: Ctx) -> list[Commit]:
    k = N_WEEKS - 1 - i
    oncall = person(spec.rota[k % len(spec.rota)])
    maintainer = person(spec.maintainers[i % len(spec.maintainers)])
    start = week_start(ctx.as_of, i).date().isoformat()
    return [
        Commit(
            at(ctx.as_of, i, ONCALL_AT),
            oncall,
            f"Update on-call rota for week of {start}",
            {"ONCALL.md": oncall_md(spec, i, ctx.as_of)},
        ),
        Commit(
            at(ctx.as_of, i, RELEASE_AT),
            maintainer,
            f"Release {version(spec, i)}",
            {
                "CHANGELOG.md": changelog_md(spec, i, ctx.as_of),
                "config/settings.yaml": settings_yaml(spec, i, ctx),
            },
        ),
        Commit(
            at(ctx.as_of, i, STATUS_AT),
            oncall,
            f"Weekly status for week of {start}",
            {"STATUS.md": status_md(spec, i, ctx.as_of)},
        ),
    ]


# -- one-off commits ---------------------------------------------------------------------------


def platform_api_oneoffs(ctx: Ctx) -> tuple[dict[str, str], list[tuple[int, str, str, dict]]]:
    f = ctx.fakes
    initial = {
        "README.md": rf.PA_README,
        "pyproject.toml": rf.PA_PYPROJECT,
        "platform_api/__init__.py": rf.PA_INIT,
        "platform_api/config.py": rf.PA_CONFIG,
        "platform_api/routing.py": rf.PA_ROUTING,
        "platform_api/cli.py": rf.PA_CLI,
        "docs/design/pagination.md": rf.PA_DESIGN_PAGINATION,
        "scripts/legacy_import.py": rf.PA_LEGACY_IMPORT,
    }
    # The history-only secret: added in week 30, scrubbed from HEAD in week 31.
    leaked = rf.PA_SYNC_WITH_KEYS.format(
        key_id=f.aws_key_id("repo-platform-api-history"),
        secret=f.aws_secret_key("repo-platform-api-history-secret"),
    )
    oneoffs = [
        (
            3,
            "Mei Lin Chen",
            "Add bearer token verification",
            {"platform_api/auth.py": rf.PA_AUTH, "docs/design/auth-tokens.md": rf.PA_DESIGN_AUTH},
        ),
        (
            5,
            "Owen Gallagher",
            "Add deploy key for the artifact mirror",
            {"deploy/keys/deploy_key.pem": f.rsa_private_key("repo-platform-api-deploy") + "\n"},
        ),
        (
            8,
            "Aisha Bello",
            "Add token-bucket rate limiter",
            {
                "platform_api/rate_limit.py": rf.PA_RATE_LIMIT,
                "docs/design/rate-limiting.md": rf.PA_DESIGN_RATE_LIMITING,
            },
        ),
        (
            20,
            "Kwame Mensah",
            "Remove legacy MongoDB import script",
            {"scripts/legacy_import.py": None},
        ),
        (30, "Owen Gallagher", "Add artifact sync script", {"scripts/sync_artifacts.sh": leaked}),
        (
            31,
            "Owen Gallagher",
            "Remove inline AWS credentials from sync script",
            {"scripts/sync_artifacts.sh": rf.PA_SYNC_FROM_ENV},
        ),
        (
            40,
            "Aisha Bello",
            "Add webhook signing helper",
            {"platform_api/webhooks.py": rf.PA_WEBHOOKS},
        ),
    ]
    return initial, oneoffs


def billing_oneoffs(ctx: Ctx) -> tuple[dict[str, str], list[tuple[int, str, str, dict]]]:
    f = ctx.fakes
    initial = {
        "README.md": rf.BS_README,
        "pyproject.toml": rf.BS_PYPROJECT,
        "billing/__init__.py": rf.BS_INIT,
        "billing/constants.py": rf.BS_CONSTANTS,
        "billing/invoices.py": rf.BS_INVOICES,
        "billing/cli.py": rf.BS_CLI,
        "billing/csv_export_v1.py": rf.BS_CSV_EXPORT_V1,
        "docs/design/invoice-numbering.md": rf.BS_DESIGN_NUMBERING,
    }
    publish = rf.BS_PUBLISH.format(token=f.github_token("repo-billing-publish"))
    aws_env = rf.BS_AWS_ENV.format(
        key_id=f.aws_key_id("repo-billing-aws"), secret=f.aws_secret_key("repo-billing-aws-secret")
    )
    oneoffs = [
        (
            4,
            "Rahul Desai",
            "Add sales tax calculation",
            {
                "billing/tax.py": rf.BS_TAX,
                "docs/design/currency-rounding.md": rf.BS_DESIGN_ROUNDING,
            },
        ),
        (10, "Samira Khan", "Add package publish script", {"scripts/publish.sh": publish}),
        (
            12,
            "Samira Khan",
            "Add dunning schedule",
            {"billing/dunning.py": rf.BS_DUNNING, "docs/design/dunning.md": rf.BS_DESIGN_DUNNING},
        ),
        (25, "Rahul Desai", "Drop the legacy CSV export", {"billing/csv_export_v1.py": None}),
        (
            40,
            "Tom Becker",
            "Add invoice bucket credentials for the PDF renderer",
            {"deploy/aws.env": aws_env},
        ),
    ]
    return initial, oneoffs


def history(spec: RepoSpec, ctx: Ctx) -> list[Commit]:
    plan = platform_api_oneoffs if spec is PLATFORM_API else billing_oneoffs
    initial, oneoffs = plan(ctx)
    first = Commit(
        week_start(ctx.as_of, 0) - timedelta(days=4) + timedelta(hours=10),
        person(spec.maintainers[0]),
        f"Initial import of {spec.name}",
        initial,
    )
    commits = [first]
    for i in range(N_WEEKS):
        commits += weekly_commits(spec, i, ctx)
    for week, author, message, changes in oneoffs:
        commits.append(Commit(at(ctx.as_of, week, FEATURE_AT), person(author), message, changes))
    return sorted(commits, key=lambda commit: commit.when)


def set_worktree_mtimes(repo: Path, commits: list[Commit]) -> None:
    """Give each checked-out file the time of the last commit that touched it."""
    last: dict[str, datetime] = {}
    for commit in commits:
        for path, content in commit.changes.items():
            if content is None:
                last.pop(path, None)
            else:
                last[path] = commit.when
    for path, when in last.items():
        stamp = when.timestamp()
        os.utime(repo / path, (stamp, stamp))


def build_repo(spec: RepoSpec, repos_dir: Path, ctx: Ctx) -> int:
    """Create the repository and return how many commits it has."""
    commits = history(spec, ctx)
    target = repos_dir / spec.name
    import_history(target, commits)
    set_worktree_mtimes(target, commits)
    return len(commits)


REPOS = (PLATFORM_API, BILLING_SERVICE)
