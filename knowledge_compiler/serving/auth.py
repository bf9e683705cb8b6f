"""API keys: kc.yaml names each user's key by an environment variable or by its sha256.

No plain key is ever read from the configuration. Keys are held as sha256 digests only, and a
presented key is compared with every user's digest by `hmac.compare_digest` (no early exit), so
the time taken says nothing about which user, or how much of a key, matched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

from settings.config import ConfigError


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """user -> sha256 digest of their key; `user_for(key)` finds the user of a presented key."""

    def __init__(self, digests: Mapping[str, bytes]) -> None:
        self._digests = dict(digests)

    @classmethod
    def from_config(cls, api_keys: Mapping[str, Mapping[str, str]],
                    environ: Mapping[str, str] | None = None,
                    known_users: set[str] | None = None) -> ApiKeys:
        """Resolve `serve.api_keys` (read the named environment variables now, at start)."""
        environ = os.environ if environ is None else environ
        digests: dict[str, bytes] = {}
        for user, entry in api_keys.items():
            if known_users is not None and user not in known_users:
                raise ConfigError(f"serve.api_keys.{user}: not a user declared in `users` "
                                  "(a key must map to a user with groups)")
            if "key_env" in entry:
                value = environ.get(entry["key_env"], "")
                if len(value) < 16:
                    raise ConfigError(
                        f"serve.api_keys.{user}.key_env: the environment variable "
                        f"{entry['key_env']} is unset or shorter than 16 characters; export "
                        "the key there before `kc serve`")
                digests[user] = key_digest(value)
            else:
                digests[user] = bytes.fromhex(entry["key_sha256"])
        return cls(digests)

    def user_for(self, presented: str | None) -> str | None:
        """The user whose key this is, or None. Every digest is compared."""
        if not presented:
            return None
        digest = key_digest(presented)
        found = None
        for user, expected in self._digests.items():
            if hmac.compare_digest(digest, expected):
                found = user
        return found

    def __len__(self) -> int:
        return len(self._digests)
