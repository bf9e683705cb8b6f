"""Static file contents of the two sample repositories.

These files are committed once and never change afterwards (except the few noted below), so
their facts are "stable". The weekly files live in ``repos.py``.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# platform-api (tenant: engineering)
# --------------------------------------------------------------------------------------------

PA_README = """\
# platform-api

Public REST gateway and internal gRPC services of the Northwind logistics platform.

## Ownership

- Owning team: Platform Engineering (cost center CC-1100)
- Tech lead: Mei Lin Chen
- Product owner: Sofia Rossi
- Support channel: #platform-api

## Running locally

    python -m platform_api.cli serve --port 8443 --workers 2

## Layout

- `platform_api/` service code
- `docs/design/` design notes (frozen once accepted)
- `config/settings.yaml` production settings, bumped with every release
- `ONCALL.md` and `STATUS.md` updated every week by the on-call engineer
"""

PA_PYPROJECT = """\
[project]
name = "platform-api"
requires-python = ">=3.11"
dependencies = ["grpcio>=1.62", "pyjwt>=2.8", "redis>=5.0"]

[project.scripts]
platform-api = "platform_api.cli:main"
"""

PA_INIT = '''\
"""Northwind platform API: public REST endpoints and internal gRPC services."""
'''

PA_CONFIG = '''\
"""Compiled-in configuration defaults for platform-api.

config/settings.yaml overrides these per environment; anything it does not set falls back to
the constants below.
"""

DEFAULT_PORT = 8443
"""TCP port of the public HTTP server."""

GRPC_HEALTH_PORT = 9090
"""Port of the internal gRPC health service (see ADR-0011)."""

REQUEST_TIMEOUT_SECONDS = 30
"""Upstream requests are cancelled after this many seconds."""

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
"""Largest page a client may request with the limit parameter."""

ACCESS_TOKEN_TTL_MINUTES = 15
REFRESH_TOKEN_TTL_DAYS = 30

MAX_STOPS_PER_REQUEST = 2500
SOLVER_DEADLINE_SECONDS = 45
'''

PA_ROUTING = '''\
"""Route optimisation entry points used by the public API."""

from __future__ import annotations

from dataclasses import dataclass

from platform_api.config import MAX_STOPS_PER_REQUEST, SOLVER_DEADLINE_SECONDS


class TooManyStopsError(ValueError):
    """Raised when a request has more stops than allowed; reported as error RO-4002."""


@dataclass(frozen=True)
class Stop:
    """A delivery stop. Time windows are minutes after local midnight."""

    stop_id: str
    lat: float
    lon: float
    window_start: int | None = None
    window_end: int | None = None


def optimize_route(
    stops: list[Stop], vehicle_id: str, *, deadline_s: float = SOLVER_DEADLINE_SECONDS
) -> list[str]:
    """Return stop ids in visiting order for one vehicle.

    The atlas-solver backend gets ``deadline_s`` seconds; when time runs out it returns the
    best route found so far instead of failing, and the response is flagged as partial.
    """
    if len(stops) > MAX_STOPS_PER_REQUEST:
        raise TooManyStopsError(f"{len(stops)} stops; the limit is {MAX_STOPS_PER_REQUEST}")
    # Local fallback ordering used when the solver is unavailable: earliest window first.
    ordered = sorted(stops, key=lambda stop: (stop.window_start or 0, stop.stop_id))
    return [stop.stop_id for stop in ordered]
'''

PA_CLI = '''\
"""Command line interface: ``python -m platform_api.cli serve|migrate``."""

from __future__ import annotations

import argparse

from platform_api.config import DEFAULT_PORT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="platform-api", description="Run and operate the Northwind platform API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Start the HTTP and gRPC servers.")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="Port of the HTTP server (default: 8443)."
    )
    serve.add_argument(
        "--workers", type=int, default=4, help="Number of worker processes (default: 4)."
    )
    serve.add_argument(
        "--drain-timeout",
        type=int,
        default=20,
        help="Seconds to let in-flight requests finish on shutdown (default: 20).",
    )
    serve.add_argument(
        "--log-level", choices=["debug", "info", "warning"], default="info", help="Log verbosity."
    )

    migrate = commands.add_parser("migrate", help="Apply database migrations.")
    migrate.add_argument("--target", default="head", help="Revision to migrate to (default: head).")
    migrate.add_argument("--dry-run", action="store_true", help="Print the SQL without running it.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"platform-api {args.command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''

PA_AUTH = '''\
"""Bearer token verification.

Tokens are JWTs signed with ES256 by identity-service. Access tokens live for 15 minutes
(ACCESS_TOKEN_TTL_MINUTES); clients renew them with a refresh token that is valid for 30 days.
"""

from __future__ import annotations


class TokenVerifier:
    """Verifies bearer tokens against the identity-service JWKS endpoint.

    Signing keys are cached for JWKS_CACHE_SECONDS (10 minutes), so identity-service outages
    shorter than that do not block API traffic.
    """

    JWKS_CACHE_SECONDS = 600

    def __init__(
        self, issuer: str = "https://id.northwind.example", audience: str = "platform-api"
    ) -> None:
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> dict[str, str]:
        """Return the token claims, or raise PermissionError (AUTH-4011 when expired)."""
        if not token:
            raise PermissionError("AUTH-4011: missing or expired token")
        return {"iss": self.issuer, "aud": self.audience}
'''

PA_RATE_LIMIT = '''\
"""Token-bucket rate limiting per API key."""

from __future__ import annotations


class TokenBucket:
    """A continuously refilled token bucket.

    A Starter key refills at 60 tokens per minute and may burst up to 120 requests.
    """

    def __init__(self, rate_per_minute: int, burst: int) -> None:
        self.rate_per_second = rate_per_minute / 60
        self.capacity = burst
        self.tokens = float(burst)
        self.updated = 0.0

    def allow(self, now: float) -> bool:
        """Take one token if available; the caller answers HTTP 429 (RO-4290) otherwise."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate_per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
'''

PA_WEBHOOKS = '''\
"""Webhook signing.

Signatures are HMAC-SHA256 over "<timestamp>.<body>" and travel in the X-Northwind-Signature
header. Receivers should reject timestamps older than 5 minutes to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac

MAX_SIGNATURE_AGE_SECONDS = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Return the hex signature for one webhook delivery."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
'''

PA_DESIGN_PAGINATION = """\
# Design: cursor pagination

Author: Mei Lin Chen. Status: accepted.

List endpoints use opaque cursors instead of page numbers, so results stay stable while
routes are being edited.

- Cursors are base64-encoded and expire after 24 hours.
- The default page size is 50 and the maximum is 200.
- A request with an expired cursor gets HTTP 410 and must restart from the first page.
"""

PA_DESIGN_AUTH = """\
# Design: access and refresh tokens

Author: Aisha Bello. Status: accepted.

- Access tokens expire after 15 minutes.
- Refresh tokens are valid for 30 days and are rotated on every use.
- The revocation list is polled every 60 seconds.
"""

PA_DESIGN_RATE_LIMITING = """\
# Design: rate limiting

Author: Aisha Bello. Status: accepted.

Buckets live in Redis under the key pattern ratelimit:{api_key}. If Redis is unreachable the
limiter fails open for at most 30 seconds, then rejects requests until it recovers.
"""

PA_LEGACY_IMPORT = '''\
"""One-off import of route plans from MongoDB 4.4 into PostgreSQL (see ADR-0007)."""

BATCH_SIZE = 1000
'''

PA_SYNC_WITH_KEYS = """\
#!/bin/sh
# Mirror build artifacts to the legacy bucket.
export AWS_ACCESS_KEY_ID={key_id}
export AWS_SECRET_ACCESS_KEY={secret}
aws s3 sync dist/ s3://nw-artifacts-legacy/platform-api/
"""

PA_SYNC_FROM_ENV = """\
#!/bin/sh
# Mirror build artifacts to the legacy bucket. Credentials come from the CI environment.
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
aws s3 sync dist/ s3://nw-artifacts-legacy/platform-api/
"""

# --------------------------------------------------------------------------------------------
# billing-service (tenant: finance)
# --------------------------------------------------------------------------------------------

BS_README = """\
# billing-service

Invoicing, payment collection and dunning for Northwind subscriptions.

## Ownership

- Service owner: Benjamin Cohen (Billing Operations)
- Tech lead: Rahul Desai
- Cost center: CC-2100

## Usage

    python -m billing.cli run-invoices --period 2024-05 --dry-run

Invoices are generated on the first day of each month. See `docs/design/` for the invoice
number format and rounding rules.
"""

BS_PYPROJECT = """\
[project]
name = "billing-service"
requires-python = ">=3.11"
dependencies = ["psycopg>=3.1", "httpx>=0.27"]
"""

BS_INIT = '''\
"""Northwind billing service: invoices, payments and dunning."""
'''

BS_CONSTANTS = '''\
"""Business constants for invoicing. Changing any of them needs sign-off from Finance."""

INVOICE_DUE_DAYS = 30
LATE_FEE_PERCENT_PER_MONTH = 1.5
DEFAULT_CURRENCY = "USD"
SUPPORTED_CURRENCIES = ("USD", "CAD", "EUR", "GBP", "PLN")
MIN_INVOICE_AMOUNT_CENTS = 500
INVOICE_NUMBER_PREFIX = "INV"
SUSPEND_AFTER_DAYS_OVERDUE = 45
'''

BS_INVOICES = '''\
"""Invoice assembly and numbering."""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.constants import INVOICE_NUMBER_PREFIX, MIN_INVOICE_AMOUNT_CENTS


def next_invoice_number(year: int, sequence: int) -> str:
    """Format an invoice number as INV-<year>-<six digit sequence>, e.g. INV-2024-000042.

    Sequences restart at 1 every 1 January.
    """
    return f"{INVOICE_NUMBER_PREFIX}-{year}-{sequence:06d}"


@dataclass
class InvoiceBuilder:
    """Collects line items for one customer and billing period.

    Invoices below MIN_INVOICE_AMOUNT_CENTS ($5.00) are carried over to the next period
    instead of being issued.
    """

    customer_id: str
    period: str
    lines: list[tuple[str, int]] = field(default_factory=list)

    def add_line(self, sku: str, amount_cents: int) -> None:
        self.lines.append((sku, amount_cents))

    def total_cents(self) -> int:
        return sum(amount for _, amount in self.lines)

    def should_issue(self) -> bool:
        return self.total_cents() >= MIN_INVOICE_AMOUNT_CENTS
'''

BS_TAX = '''\
"""Sales tax calculation.

Delegates to the TaxBridge engine and falls back to cached rates that are at most 24 hours
old when TaxBridge is unavailable.
"""

from __future__ import annotations

TEXAS_TAXABLE_SHARE = 0.8
"""Texas taxes only 80% of a SaaS charge."""

RATE_CACHE_MAX_AGE_HOURS = 24


def compute_tax(amount_cents: int, state: str, rate: float) -> int:
    """Return the tax in cents for one invoice line, rounding half to even."""
    taxable = amount_cents * (TEXAS_TAXABLE_SHARE if state == "TX" else 1.0)
    return round(taxable * rate)
'''

BS_DUNNING = '''\
"""Dunning: reminders for overdue invoices."""

from __future__ import annotations

from billing.constants import SUSPEND_AFTER_DAYS_OVERDUE

DUNNING_SCHEDULE_DAYS = (3, 7, 14)
"""Days after the due date on which reminder emails are sent."""


def next_action(days_overdue: int) -> str:
    """Return "remind", "suspend" or "wait" for an invoice that is ``days_overdue`` late."""
    if days_overdue >= SUSPEND_AFTER_DAYS_OVERDUE:
        return "suspend"
    if days_overdue in DUNNING_SCHEDULE_DAYS:
        return "remind"
    return "wait"
'''

BS_CLI = '''\
"""Command line interface: ``python -m billing.cli run-invoices|retry-payments``."""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing", description="Northwind billing jobs.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run-invoices", help="Generate invoices for a billing period.")
    run.add_argument("--period", required=True, help="Billing period as YYYY-MM.")
    run.add_argument(
        "--batch-size", type=int, default=500, help="Customers per database batch (default: 500)."
    )
    run.add_argument("--dry-run", action="store_true", help="Compute invoices without saving.")

    retry = commands.add_parser("retry-payments", help="Retry failed card payments.")
    retry.add_argument(
        "--max-attempts", type=int, default=3, help="Attempts per invoice (default: 3)."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"billing {args.command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''

BS_CSV_EXPORT_V1 = '''\
"""Legacy CSV export of invoices for the old ERP (replaced by the LedgerPoint connector)."""

DELIMITER = ";"
'''

BS_DESIGN_NUMBERING = """\
# Design: invoice numbering

Author: Rahul Desai. Status: accepted.

Invoice numbers look like INV-2024-000042: the prefix, the calendar year and a six-digit
sequence. Sequences restart every 1 January and are never reused, even for voided invoices.
"""

BS_DESIGN_ROUNDING = """\
# Design: currency and rounding

Author: Rahul Desai. Status: accepted.

- Amounts are stored as integer cents.
- Tax is rounded half to even (banker's rounding) per invoice line.
- Exchange rates come from OpenRates and are fixed at invoice creation time.
"""

BS_DESIGN_DUNNING = """\
# Design: dunning

Author: Samira Khan. Status: accepted.

Reminder emails go out 3, 7 and 14 days after the due date. Accounts are suspended 45 days
after the due date; suspension is lifted automatically within 15 minutes of payment.
"""

BS_PUBLISH = """\
#!/bin/sh
# Publish the billing client package to the internal GitHub Packages registry.
GITHUB_TOKEN={token}
REGISTRY=npm.pkg.github.com
npm publish --registry "https://$REGISTRY/" --"//$REGISTRY/:_authToken=$GITHUB_TOKEN"
"""

BS_AWS_ENV = """\
# Credentials for the invoice PDF bucket (nw-invoices-prod).
AWS_ACCESS_KEY_ID={key_id}
AWS_SECRET_ACCESS_KEY={secret}
AWS_REGION=us-east-2
"""
