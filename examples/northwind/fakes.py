"""Fake secrets and PII for the Northwind corpus.

Every value comes from ``random.Random`` seeded with a fixed label, so the same label always
yields the same string on every machine and Python version (string seeds are hashed with
SHA-512, independent of PYTHONHASHSEED). Each generated value is recorded so the manifest can
list exactly what was planted.
"""

from __future__ import annotations

import random
import string

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_BASE64 = string.ascii_letters + string.digits + "+/"
# No quote, colon, at-sign, hash or percent: passwords must survive YAML and URLs unquoted.
_PASSWORD_CHARS = string.ascii_letters + string.digits + "!*-_"

EMAIL_DOMAIN = "northwind.example"


def _rng(label: str) -> random.Random:
    return random.Random(f"northwind:{label}")


def _pick(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


class Fakes:
    """Generates fake secrets/PII and remembers every planted string in order."""

    def __init__(self) -> None:
        self.secrets: list[tuple[str, str]] = []
        self.pii: list[tuple[str, str]] = []

    def _secret(self, kind: str, value: str) -> str:
        if (kind, value) not in self.secrets:
            self.secrets.append((kind, value))
        return value

    def _pii(self, kind: str, value: str) -> str:
        if (kind, value) not in self.pii:
            self.pii.append((kind, value))
        return value

    # -- secrets -------------------------------------------------------------------------
    def aws_key_id(self, label: str) -> str:
        return self._secret("aws_access_key_id", "AKIA" + _pick(_rng(label), _UPPER_ALNUM, 16))

    def aws_secret_key(self, label: str) -> str:
        return self._secret("aws_secret_access_key", _pick(_rng(label), _BASE64, 40))

    def github_token(self, label: str) -> str:
        return self._secret("github_token", "ghp_" + _pick(_rng(label), _ALNUM, 36))

    def password(self, label: str) -> str:
        rng = _rng(label)
        # A leading letter keeps YAML from reading "!", "*" or "-" as a tag, alias or list.
        return self._secret(
            "password", rng.choice(string.ascii_letters) + _pick(rng, _PASSWORD_CHARS, 19)
        )

    def database_url(self, label: str, user: str, host: str, database: str) -> str:
        # The embedded password is not recorded separately: the URL is the leaked unit.
        secret = _pick(_rng(label), _ALNUM, 18)
        return self._secret("database_url", f"postgres://{user}:{secret}@{host}:5432/{database}")

    def rsa_private_key(self, label: str) -> str:
        rng = _rng(label)
        # Real PKCS#1 keys start with this DER prefix; it makes the block look plausible.
        body = "MIIEpAIBAAKCAQEA" + _pick(rng, _BASE64, 64 * 24 - 16 + 28)
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        block = "\n".join(
            ["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----"]
        )
        return self._secret("rsa_private_key", block)

    # -- PII -----------------------------------------------------------------------------
    def email(self, name: str) -> str:
        local = ".".join(part.lower() for part in name.replace("-", " ").split())
        return self._pii("email", f"{local}@{EMAIL_DOMAIN}")

    def mailbox(self, local: str) -> str:
        """A shared mailbox such as billing@...; still an address, so still recorded."""
        return self._pii("email", f"{local}@{EMAIL_DOMAIN}")

    def phone(self, number: int) -> str:
        """International style, e.g. ``+1 555-0142`` (555-01xx is reserved for fiction)."""
        return self._pii("phone", f"+1 555-{number:04d}")

    def phone_local(self, number: int) -> str:
        """North American local style, e.g. ``(555) 010-2345``."""
        return self._pii("phone", f"(555) 010-{number:04d}")
