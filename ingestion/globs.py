"""Path globs with ``**`` (any depth), matched against POSIX relative paths."""

from __future__ import annotations

import re
from functools import cache


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(path: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(_compile(p).match(path) for p in patterns)


def selected(path: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    return matches(path, include) and not matches(path, exclude)
