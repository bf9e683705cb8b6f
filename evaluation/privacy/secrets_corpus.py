"""A generated corpus of planted secrets and clean look-alikes, for measuring the scrubber.

``build_secrets_corpus(root)`` writes 12 kinds of secret x 5 placements = 60 planted secrets,
and about 1,000 clean files full of strings that resemble secrets but are not (UUIDs, git
SHAs, lock-file hashes, SRI digests, documented example keys, placeholders, code that *reads*
a password). Everything is seeded: two builds give the same bytes and the same git SHAs.

Layout under ``root``::

    repo/        a git repository: the "code" placement at HEAD, the "history" placement in a
                 file added by one commit and deleted by the next, ~600 clean code files
    documents/   a folder: the "pdf", "docx" and "base64" placements, ~400 clean documents

Every carrier document holds a unique marker sentence beside its secret, so an audit can tell
"the scrubber removed the secret" from "the document never got in".
"""

from __future__ import annotations

import base64
import io
import json
import random
import string
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evaluation.privacy.corpus_writers import (
    Commit,
    Line,
    git,
    import_history,
    normalize_docx_zip,
    write_pdf,
)

KINDS = ("aws_key_pair", "github_token", "slack_token", "stripe_key", "private_key", "jwt",
         "gcp_service_account", "database_url", "dotenv_line", "generic_hex", "yaml_password",
         "bearer_header")
PLACEMENTS = ("code", "pdf", "docx", "history", "base64")
SOURCE_REPO, SOURCE_DOCS = "secrets-repo", "secrets-docs"
AS_OF = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
AUTHOR = ("Corpus Builder", "builder@corpus.example")

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_B64URL = _ALNUM + "-_"
_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Secret:
    """One planted secret: the text that carries it and the strings that must never be stored."""

    kind: str
    placement: str
    snippet: str  # the secret in its context (a config line, a code block, a JSON file)
    needles: tuple[str, ...]  # any of these in a store is a leak
    marker: str  # a unique, harmless sentence stored beside the secret
    source: str  # SOURCE_REPO or SOURCE_DOCS
    path: str  # where it lives in its source (for "history": the path in the removed commit)


@dataclass
class SecretsCorpus:
    root: Path
    secrets: list[Secret] = field(default_factory=list)
    clean: list[tuple[str, str]] = field(default_factory=list)  # (source, path)

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def documents(self) -> Path:
        return self.root / "documents"


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """A random string with at least one upper, lower and digit (as real keys have)."""
    while True:
        value = _pick(rng, alphabet, n)
        if (any(c.isupper() for c in value) and any(c.islower() for c in value)
                and any(c.isdigit() for c in value)):
            return value


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key_body(rng: random.Random) -> list[str]:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + _pick(rng, _B64, 64 * 20 - 32)
    return [body[i:i + 64] for i in range(0, len(body), 64)]


# --------------------------------------------------------------------------- secret kinds
# Each returns (snippet, needles, file suffix for the code placement).

def _aws(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    key_id = "AKIA" + _pick(rng, string.ascii_uppercase + string.digits, 16)
    secret = _mixed(rng, _B64, 40)
    snippet = (f'session = boto3.Session(\n    aws_access_key_id="{key_id}",\n'
               f'    aws_secret_access_key="{secret}",\n    region_name="eu-west-1",\n)')
    return snippet, (key_id, secret), "py"


def _github(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    token = "ghp_" + _mixed(rng, _ALNUM, 36)
    return f'client = Github("{token}")\nrepo = client.get_repo("corp/infra")', (token,), "py"


def _slack(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    token = (f"xoxb-{_pick(rng, string.digits, 12)}-{_pick(rng, string.digits, 13)}-"
             f"{_mixed(rng, _ALNUM, 24)}")
    return (f'slack = WebClient(token="{token}")\nslack.chat_postMessage(channel="#deploys", '
            'text="done")'), (token,), "py"


def _stripe(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    key = "sk_live_" + _mixed(rng, _ALNUM, 24)
    return f'stripe.api_key = "{key}"\ncharge = stripe.Charge.retrieve(charge_id)', (key,), "py"


def _private_key(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    lines = _key_body(rng)
    block = "\n".join(["-----BEGIN PRIVATE KEY-----", *lines, "-----END PRIVATE KEY-----"])
    snippet = "tls:\n  cert_file: /etc/tls/server.crt\n  key: |\n" + textwrap.indent(block, "    ")
    return snippet, tuple(lines), "yaml"


def _jwt(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(json.dumps({"sub": str(rng.randrange(10**9)), "role": "admin",
                                  "iat": 1717000000 + rng.randrange(10**6)}).encode())
    signature = _b64url(rng.randbytes(32))
    token = f"{header}.{payload}.{signature}"
    return f'SESSION_COOKIE = "{token}"', (token, signature), "py"


def _gcp(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    key_id = _pick(rng, _HEX, 40)
    lines = _key_body(rng)
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"
    account = {
        "type": "service_account", "project_id": "corp-analytics-prod",
        "private_key_id": key_id, "private_key": pem,
        "client_email": "etl-runner@corp-analytics-prod.iam.gserviceaccount.com",
        "client_id": _pick(rng, string.digits, 21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return json.dumps(account, indent=2), (key_id, *lines), "json"


def _database_url(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    password = _mixed(rng, _ALNUM, 20)
    url = f"postgresql://etl_writer:{password}@db-prod-3.corp.internal:5432/warehouse"
    return f'engine = create_engine("{url}", pool_size=5)', (password,), "py"


def _dotenv(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    value = _mixed(rng, _ALNUM + "!*-_", 32)
    return (f"APP_ENV=production\nSENDGRID_API_KEY={value}\nLOG_LEVEL=info",
            (value,), "env")


def _generic_hex(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    value = _pick(rng, _HEX, 64)
    return (f'WEBHOOK_SIGNING_KEY = "{value}"\nverify(body, WEBHOOK_SIGNING_KEY)',
            (value,), "py")


def _yaml_password(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    value = _mixed(rng, _ALNUM + "!*-_", 18)
    value = rng.choice(string.ascii_letters) + value  # a leading letter: plain YAML scalar
    return (f"database:\n  host: db-prod-3.corp.internal\n  user: etl_writer\n"
            f"  password: {value}\n  pool: 5", (value,), "yaml")


def _bearer(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    token = _mixed(rng, _B64URL, 44)
    return (f'curl -s https://api.partner.example/v2/orders \\\n'
            f'  -H "Authorization: Bearer {token}" \\\n  -H "Accept: application/json"',
            (token,), "sh")


_GENERATORS = {
    "aws_key_pair": _aws, "github_token": _github, "slack_token": _slack,
    "stripe_key": _stripe, "private_key": _private_key, "jwt": _jwt,
    "gcp_service_account": _gcp, "database_url": _database_url, "dotenv_line": _dotenv,
    "generic_hex": _generic_hex, "yaml_password": _yaml_password, "bearer_header": _bearer,
}


def _code_path(kind: str, suffix: str, prefix: str) -> str:
    if suffix == "env":
        return f"{prefix}/{kind}/.env"
    return f"{prefix}/{kind}/settings.{suffix}"


def _marker(kind: str, placement: str) -> str:
    return f"Carrier note {kind} {placement}: rotation ledger entry kept for the audit."


def _b64_block(snippet: str) -> str:
    encoded = base64.b64encode(snippet.encode()).decode()
    return "\n".join(textwrap.wrap(encoded, 76))  # as `base64` prints it


def _encoded_needles(snippet: str, needles: tuple[str, ...]) -> list[str]:
    """The base64 of the snippet, whole and each printed line that encodes part of a secret."""
    block = _b64_block(snippet)
    out = [block.replace("\n", "")]
    raw = snippet.encode()
    spans = []
    for needle in needles:
        start = raw.index(needle.encode())
        spans.append((start * 4 // 3, -(-(start + len(needle.encode())) * 4 // 3)))
    offset = 0
    for line in block.splitlines():
        if any(a < offset + len(line) and offset < b for a, b in spans) and len(line) >= 12:
            out.append(line)
        offset += len(line)
    return out


def plant_secrets() -> list[Secret]:
    """The 60 planted secrets, in a fixed order."""
    out = []
    for kind in KINDS:
        for placement in PLACEMENTS:
            rng = random.Random(f"kc-secrets:{kind}:{placement}")
            snippet, needles, suffix = _GENERATORS[kind](rng)
            if placement == "base64":
                needles = (*needles, *_encoded_needles(snippet, needles))
            source = SOURCE_REPO if placement in ("code", "history") else SOURCE_DOCS
            ext = {"pdf": "pdf", "docx": "docx", "base64": "md"}.get(placement)
            path = (_code_path(kind, suffix, "services" if placement == "code" else "legacy")
                    if ext is None else f"carriers/{kind}.{ext}")
            out.append(Secret(kind, placement, snippet, needles, _marker(kind, placement),
                              source, path))
    return out


# --------------------------------------------------------------------------- carriers

def _carrier_text(secret: Secret) -> str:
    if secret.placement == "base64":
        return (f"# Bootstrap notes for {secret.kind}\n\n{secret.marker}\n\n"
                "The provisioning job reads the following blob (base64):\n\n"
                f"```\n{_b64_block(secret.snippet)}\n```\n")
    if secret.path.endswith(".env"):
        return f"# {secret.marker}\n{secret.snippet}\n"
    if secret.path.endswith(".json"):
        return secret.snippet.replace("{\n", f'{{\n  "_note": "{secret.marker}",\n', 1) + "\n"
    comment = "#" if secret.path.endswith((".py", ".yaml", ".sh")) else "//"
    return f"{comment} {secret.marker}\n{secret.snippet}\n"


def _carrier_lines(secret: Secret) -> list[str]:
    return [f"Credentials handover: {secret.kind}", secret.marker,
            "The values below were pasted into this document by mistake.",
            *secret.snippet.splitlines()]


def _pdf(lines: list[str], title: str) -> bytes:
    layout = [Line(title, "F2", 14)] + [Line(text, "F3", 6.5) for text in lines]
    return write_pdf(layout, title=title, created=AS_OF)


def _docx(lines: list[str], title: str) -> bytes:
    import docx

    out = docx.Document()
    out.core_properties.title = title
    stamp = AS_OF.replace(tzinfo=None)
    out.core_properties.created = out.core_properties.modified = stamp
    out.core_properties.last_printed = stamp
    out.add_heading(title, level=1)
    for line in lines:
        out.add_paragraph(line)
    buffer = io.BytesIO()
    out.save(buffer)
    return normalize_docx_zip(buffer.getvalue(), AS_OF)


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")


def build_secrets_corpus(root: Path, n_clean: int = 1000) -> SecretsCorpus:
    """Write the corpus under ``root`` (which must not exist yet) and describe it."""
    from evaluation.privacy.clean_files import clean_files

    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root} exists: the secrets corpus is built into a new folder")
    corpus = SecretsCorpus(root, plant_secrets())
    repo_files: dict[str, str] = {}
    history: list[Secret] = []
    for secret in corpus.secrets:
        if secret.placement == "code":
            repo_files[secret.path] = _carrier_text(secret)
        elif secret.placement == "history":
            history.append(secret)
        elif secret.placement == "base64":
            _write(corpus.documents / secret.path, _carrier_text(secret))
        elif secret.placement == "pdf":
            _write(corpus.documents / secret.path, _pdf(_carrier_lines(secret), secret.kind))
        else:
            _write(corpus.documents / secret.path, _docx(_carrier_lines(secret), secret.kind))
    n_repo = n_clean * 3 // 5
    for i, (path, content) in enumerate(clean_files(n_clean)):
        if i < n_repo:
            repo_files[path] = content
            corpus.clean.append((SOURCE_REPO, path))
        else:
            data = (_pdf(content.splitlines(), path) if path.endswith(".pdf") else
                    _docx(content.splitlines(), path) if path.endswith(".docx") else content)
            _write(corpus.documents / path, data)
            corpus.clean.append((SOURCE_DOCS, path))
    commits = [Commit(AS_OF - timedelta(days=60), AUTHOR, "Initial import", dict(repo_files))]
    when = AS_OF - timedelta(days=30)
    for secret in history:  # added, then removed by the next commit: only history holds it
        commits.append(Commit(when, AUTHOR, f"Add legacy {secret.kind} settings",
                              {secret.path: _carrier_text(secret)}))
        commits.append(Commit(when + timedelta(hours=1), AUTHOR,
                              f"Remove legacy {secret.kind} settings", {secret.path: None}))
        when += timedelta(hours=2)
    import_history(corpus.repo, commits)
    return corpus


def history_blob(corpus: SecretsCorpus, secret: Secret) -> str:
    """The text of a history-only secret's file, read back from git (the commit that added it)."""
    sha = git(corpus.repo, "log", "--format=%H", "-n", "1", "--diff-filter=A", "--",
              secret.path).strip()
    return git(corpus.repo, "show", f"{sha}:{secret.path}")
