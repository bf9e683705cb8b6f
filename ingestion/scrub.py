"""Secret scrubbing and PII redaction, applied before any text is stored.

Named credentials (AWS, GitHub, Slack, Stripe, JWT, private keys, basic auth) use the
patterns of detect-secrets' plugins, run over whole texts rather than line by line (its
``scan_line`` costs ~1 ms a line and reports every word as a candidate). Generic secrets
(assignments to password/secret/token keys, URLs with credentials, bearer headers, long hex or
base64 blobs, base64 that decodes to a secret) and PII (emails, phone numbers) use our own
patterns. Only counts per kind are kept; the values never leave this module.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache


@dataclass
class Redactions:
    """Counts of what was removed, by kind."""

    secrets: Counter[str] = field(default_factory=Counter)
    pii: Counter[str] = field(default_factory=Counter)

    def add(self, other: Redactions) -> None:
        self.secrets.update(other.secrets)
        self.pii.update(other.pii)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"secrets": dict(sorted(self.secrets.items())),
                "pii": dict(sorted(self.pii.items()))}


def _detect_secrets_patterns() -> list[tuple[str, re.Pattern[str]]]:
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector

    out = []
    for kind, plugin in (("aws_access_key", AWSKeyDetector), ("github_token", GitHubTokenDetector),
                         ("jwt", JwtTokenDetector), ("slack_token", SlackDetector),
                         ("stripe_key", StripeDetector)):
        out.extend((kind, pattern) for pattern in plugin.denylist)
    return out


_KEY_WORDS = (r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
              r"private[_-]?key|client[_-]?secret|auth[_-]?token|credentials?|aws_secret_access_key|"
              r"(?:signing|encryption|hmac|master|session|webhook)[_-]?key)")

_OWN_PATTERNS: list[tuple[str, str]] = [
    ("private_key", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)"),
    ("gcp_service_account", r'"private_key_id"\s*:\s*"[0-9a-f]{20,}"'),
    ("url_credentials",
     r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"]+:(?!\[REDACTED)([^\s@/'\"]{3,})@"),
    ("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{16,}=*"),
    ("aws_secret_key", r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
    # KEY: value / KEY = "value" / KEY=value (.env, YAML, INI, code), on one line
    ("password_assignment",
     rf"(?i)\b[\w.-]*{_KEY_WORDS}[\w.-]*\b[\"']?[ \t]*[:=][ \t]*[\"']?(?!\[REDACTED)"
     r"([^\s\"',;]{4,})"),
    ("generic_hex", r"\b[0-9a-fA-F]{32,}\b"),
    ("generic_high_entropy", r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}(?![A-Za-z0-9+/=_-])"),
]

# Patterns whose group 1 is the secret value: the key name around it stays readable.
_VALUE_GROUP_KINDS = frozenset({"url_credentials", "password_assignment"})

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONES = [
    re.compile(r"(?<![\w+])\+\d{1,3}[\s.-]?\(?\d{2,4}\)?[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?\b"),
    re.compile(r"(?<!\w)\(\d{3}\)\s?\d{3}[\s.-]\d{4}\b"),
    re.compile(r"\b\d{3}[.-]\d{3}[.-]\d{4}\b"),
]
# A base64 run, continued over the following lines when it was wrapped (``base64`` prints 76
# characters a line): a secret encoded across several lines decodes only when they are joined.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}"
                         r"(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{4,}={0,2})*(?![A-Za-z0-9+/=])")

# Values that name or fetch a secret instead of holding one. Redacting them hides nothing and
# makes the text wrong (e.g. ``password = os.environ["DB_PASSWORD"]``).
_PLACEHOLDER = re.compile(
    r"(?i)example|^x{4,}$|x{6,}|your[-_ ]|^<.*>?$|^\$|^%\(|^\{|^\[|^\*+$|\.\.\.|changeme|"
    r"change[-_]me|placeholder|dummy|^redacted|^(?:password|passwd|secret|token|none|null|"
    r"true|false|required|optional|string|bytes)$")
# A lower-case word or path without digits (``password=password``, ``prod/db/credentials``), a
# call, index or attribute access (``os.environ[``, ``getpass.getpass(``), or a plain URL.
_REFERENCE = re.compile(r"[a-z_./-]+[(\[]?|[a-z_]\w*(?:\.[A-Za-z_]\w*)+[(\[]?|https?://[^@]+")
# Digests of public content, not secrets: git object ids, lock-file and artifact hashes.
_HASH_CONTEXT = re.compile(r"(?i)(?:sha(?:1|224|256|384|512)?|checksum|hash|integrity|commit|"
                           r"revision|githead|etag)\W{0,3}[\w.-]{0,24}\W{0,4}$")
_GIT_OBJECT_ID = re.compile(r"[0-9a-f]{40}")
_CONTEXT_KINDS = frozenset({"generic_hex", "generic_high_entropy", "aws_secret_key"})


def _not_a_secret(kind: str, value: str, text: str, start: int) -> bool:
    """Matches that look like secrets but are not: placeholders, references, public digests."""
    if _PLACEHOLDER.search(value):
        return True
    if kind in _VALUE_GROUP_KINDS and _REFERENCE.fullmatch(value.rstrip(")]}")):
        return True
    if kind in _CONTEXT_KINDS:
        if _HASH_CONTEXT.search(text[max(0, start - 48):start]):
            return True
        # A bare 40-hex string is what git prints for a commit; secrets of that shape are
        # caught by their key (password_assignment) instead.
        if kind == "generic_hex" and _GIT_OBJECT_ID.fullmatch(value):
            return True
    return kind in ("generic_high_entropy", "aws_secret_key") and not _looks_random(value)


@cache
def _secret_patterns() -> list[tuple[str, re.Pattern[str]]]:
    own = [(kind, re.compile(pattern)) for kind, pattern in _OWN_PATTERNS]
    # Specific patterns first, generic ones last, so counts name the most precise kind.
    return own[:2] + _detect_secrets_patterns() + own[2:]


def _entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def _looks_random(s: str) -> bool:
    """Long blobs are secrets when they mix classes and have high entropy, not when they are
    words joined by dashes or underscores (slugs, identifiers)."""
    classes = sum(bool(re.search(p, s)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    segments = re.split(r"[-_]", s)
    wordy = sum(seg.isalpha() or seg.isdigit() for seg in segments) / len(segments)
    if len(segments) >= 3 and wordy >= 0.75:
        return False
    return classes >= 3 and _entropy(s) >= 4.0


def _redact_secrets(text: str, counts: Counter[str]) -> str:
    for kind, pattern in _secret_patterns():
        def replace(match: re.Match[str], kind: str = kind) -> str:
            value = match.group(0)
            group = 1 if kind in _VALUE_GROUP_KINDS and match.group(1) else 0
            if _not_a_secret(kind, match.group(group), match.string, match.start(group)):
                return value
            counts[kind] += 1
            if group:  # keep the key, drop the value
                start, end = match.span(1)
                base = match.start(0)
                return value[: start - base] + f"[REDACTED:{kind}]" + value[end - base:]
            return f"[REDACTED:{kind}]"

        text = pattern.sub(replace, text)
    return text


def _decoded_secret(blob: str) -> bool:
    """True when a base64 run decodes to text that holds a secret."""
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    if not decoded.replace("\n", "").replace("\t", "").isprintable():
        return False
    probe: Counter[str] = Counter()
    _redact_secrets(decoded, probe)
    return bool(probe)


def _encoded_secret_span(run: str) -> int:
    """Length of the longest prefix of a (possibly wrapped) base64 run whose lines, joined,
    decode to a secret; 0 when none does. Lines after the blob (a word that happens to be
    base64-shaped) are dropped one at a time."""
    lines = run.splitlines(keepends=True)
    for n in range(len(lines), 0, -1):
        prefix = "".join(lines[:n])
        if _decoded_secret("".join(prefix.split())):
            return len(prefix.rstrip())
    return 0


def scrub(text: str, *, emails: bool = True, phones: bool = True) -> tuple[str, Redactions]:
    """Remove secrets and PII from text. Returns the clean text and counts per kind."""
    found = Redactions()

    def replace_b64(match: re.Match[str]) -> str:
        run = match.group(0)
        span = _encoded_secret_span(run)
        if span:
            found.secrets["base64_encoded_secret"] += 1
            return "[REDACTED:base64_encoded_secret]" + run[span:]
        return run

    text = _BASE64_RUN.sub(replace_b64, text)
    text = _redact_secrets(text, found.secrets)
    if emails:
        text, n = _EMAIL.subn("[EMAIL]", text)
        found.pii["email"] += n
    if phones:
        for pattern in _PHONES:
            text, n = pattern.subn("[PHONE]", text)
            found.pii["phone"] += n
    found.secrets = +found.secrets  # drop zero counts
    found.pii = +found.pii
    return text, found


def contains_secret(text: str) -> list[str]:
    """Kinds of secret still present in text (for asset checks and audits)."""
    _, found = scrub(text, emails=False, phones=False)
    return sorted(found.secrets)


def scrub_all(texts: Iterable[str], **kwargs: bool) -> tuple[list[str], Redactions]:
    total = Redactions()
    out = []
    for t in texts:
        clean, found = scrub(t, **kwargs)
        total.add(found)
        out.append(clean)
    return out, total
