"""Shared build context: the reference date, date helpers and the fake-value registry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from examples.northwind.fakes import Fakes

STABLE_AGE_DAYS = (120, 400)  # stable documents were last edited this many days before as_of
CHANGING_AGE_DAYS = (1, 6)  # weekly documents were edited within the last week


def normalize_as_of(as_of: datetime | None) -> datetime:
    """Default to today (UTC, midnight); treat naive datetimes as UTC."""
    if as_of is None:
        now = datetime.now(UTC)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def _stable_int(text: str) -> int:
    # hashlib rather than hash(): str hashes are salted per process.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def document_mtime(path: str, changing: bool, as_of: datetime) -> datetime:
    """Deterministic last-modified time of a document, derived from its path."""
    low, high = CHANGING_AGE_DAYS if changing else STABLE_AGE_DAYS
    seed = _stable_int(path)
    # Whole days in [low, high - 1] plus a time of day keeps the age inside [low, high).
    days = low + seed % (high - low)
    seconds = (seed >> 16) % 86_400
    return as_of - timedelta(days=days, seconds=seconds)


@dataclass
class Ctx:
    as_of: datetime
    fakes: Fakes = field(default_factory=Fakes)

    def date(self, days_before: float) -> str:
        """ISO date ``days_before`` days before as_of."""
        return (self.as_of - timedelta(days=days_before)).date().isoformat()

    def long_date(self, days_before: float) -> str:
        when = self.as_of - timedelta(days=days_before)
        return f"{when:%B} {when.day}, {when.year}"

    def edited(self, path: str, changing: bool = False) -> str:
        """ISO date on which the document at ``path`` was last edited (its mtime)."""
        return document_mtime(path, changing, self.as_of).date().isoformat()

    def week_start(self) -> str:
        """Monday of the week containing as_of minus a day (the current rota week)."""
        day = self.as_of - timedelta(days=1)
        return (day - timedelta(days=day.weekday())).date().isoformat()
