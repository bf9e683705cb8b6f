import base64

import pytest

from ingestion.scrub import contains_secret, scrub

SECRETS = {
    "aws_access_key": "AKIAZ7Q3M4N5P6R7S8T9",
    "aws_secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kL2mN4p",
    "github_token": "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A",
    "slack_token": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "stripe_key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF",
}


@pytest.mark.parametrize(("kind", "secret"), SECRETS.items())
def test_named_secrets_are_removed(kind, secret):
    text = f"config line: value {secret} end"
    clean, found = scrub(text)
    assert secret not in clean
    assert sum(found.secrets.values()) >= 1
    assert "config line" in clean


@pytest.mark.parametrize("text", [
    "password: hunter2isnotgood",
    "DB_PASSWORD=Sup3rS3cret!",
    'api_key = "k-12345-abcdef"',
    "url = postgres://svc:Pa55word@db.internal:5432/app",
    "Authorization: Bearer abcdefghijklmnop1234567890",
    "build digest 3f786850e387550fdab836ed7e6dc881de23001b3f786850",
])
def test_generic_secrets_are_removed(text):
    clean, found = scrub(text)
    assert found.secrets, clean
    assert "[REDACTED:" in clean


def test_private_key_block_removed_whole():
    block = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
             "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----")
    clean, found = scrub(f"key:\n{block}\nafter")
    assert clean == "key:\n[REDACTED:private_key]\nafter"
    assert found.secrets == {"private_key": 1}


def test_base64_encoded_secret_removed():
    encoded = base64.b64encode(f"token={SECRETS['github_token']}".encode()).decode()
    clean, found = scrub(f"blob: {encoded}")
    assert encoded not in clean
    assert found.secrets["base64_encoded_secret"] == 1


def test_pii_redacted_and_counted():
    clean, found = scrub("Mail priya.raman@northwind.example or call +1 555-0100 "
                         "or (555) 010-2345.")
    assert clean == "Mail [EMAIL] or call [PHONE] or [PHONE]."
    assert found.pii == {"email": 1, "phone": 2}


def test_pii_redaction_is_configurable():
    clean, found = scrub("Mail a@b.example", emails=False)
    assert clean == "Mail a@b.example"
    assert not found.pii


@pytest.mark.parametrize("text", [
    "Employees get 25 days of leave from 2026-01-15; the limit is 4,000 EUR.",
    "Refer to ADR-0007-use-duckdb-for-the-warehouse-layer-decision for context.",
    "def compute_invoice_total(line_items, tax_rate=0.2): return round(x, 2)",
    "SKU NW-4471-B costs 129.00 USD; error code ERR-4021 means quota exceeded.",
    "The max_retries setting defaults to 5 and timeout_seconds to 30.",
])
def test_ordinary_facts_survive(text):
    clean, found = scrub(text)
    assert clean == text
    assert not found.secrets and not found.pii


def test_contains_secret_reports_kinds():
    assert contains_secret("nothing here") == []
    assert contains_secret(f"x {SECRETS['github_token']}") == ["github_token"]


@pytest.mark.parametrize("text", [
    "url = postgres://svc:Pa55word@db.internal:5432/app",
    "password: hunter2isnotgood",
    "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
])
def test_scrubbing_is_idempotent(text):
    once, _ = scrub(text)
    twice, found = scrub(once)
    assert twice == once and not found.secrets


def test_wrapped_base64_is_joined_before_decoding():
    import textwrap

    secret = "slack = WebClient(token='xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx')"
    block = "\n".join(textwrap.wrap(base64.b64encode(secret.encode()).decode(), 76))
    clean, found = scrub(f"blob:\n{block}\nEnd of blob.")
    assert clean == "blob:\n[REDACTED:base64_encoded_secret]\nEnd of blob."
    assert found.secrets == {"base64_encoded_secret": 1}


@pytest.mark.parametrize("text", [
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "GITHUB_TOKEN=<your-github-token>",
    "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}",
    "DATABASE_URL=postgresql://user:password@localhost:5432/app",
    'password = password or os.environ["DB_PASSWORD"]',
    'password = getpass.getpass("Password: ")',
    'token = request.headers.get("Authorization")',
    "secretKeyRef:\n  name: api-db",
    "    --hash=sha256:3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed",
    "- Fix pagination (3f786850e387550fdab836ed7e6dc881de23001b)",
    '<script integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC">',
])
def test_placeholders_references_and_public_digests_survive(text):
    clean, found = scrub(text)
    assert clean == text and not found.secrets
