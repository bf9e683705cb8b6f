"""Issues and pull requests: GitHub's JSON folded into one stored item each, rendered as Markdown.

An item keeps what a reader needs (title, body, labels, state, comments, review comments with
their file and line) and nothing that changes without its text changing (reaction counts,
``updated_at``), so its Markdown, and therefore its version, changes exactly when what it
says changes. The listings are read incrementally (``since=``), so an item is the stored item
with the updated issue and the new comments merged in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

ISSUES_DIR = "_github/issues"
PULLS_DIR = "_github/pulls"
_NUMBER = re.compile(r"/(?:issues|pulls)/(\d+)$")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _login(user: object) -> str:
    return user.get("login", "ghost") if isinstance(user, dict) else "ghost"


def item_path(item: dict) -> str:
    folder = PULLS_DIR if item["kind"] == "pull" else ISSUES_DIR
    return f"{folder}/{item['number']}.md"


def from_issue(issue: dict) -> dict:
    """The stored form of one entry of ``GET /repos/{owner}/{repo}/issues`` (PRs included)."""
    pull = issue.get("pull_request")
    return {
        "number": issue["number"],
        "kind": "pull" if pull else "issue",
        "title": issue.get("title") or "",
        "body": issue.get("body") or "",
        "state": issue.get("state", "open"),
        "state_reason": issue.get("state_reason"),
        "labels": sorted(label["name"] if isinstance(label, dict) else str(label)
                         for label in issue.get("labels") or []),
        "author": _login(issue.get("user")),
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue.get("closed_at"),
        "merged_at": (pull or {}).get("merged_at"),
        "draft": bool(issue.get("draft", False)),
        "html_url": issue.get("html_url", ""),
        "comments": {},
        "review_comments": {},
    }


def merge_issue(old: dict | None, issue: dict) -> dict:
    new = from_issue(issue)
    if old is not None:
        new["comments"] = dict(old.get("comments", {}))
        new["review_comments"] = dict(old.get("review_comments", {}))
    return new


def comment_number(comment: dict, key: str) -> int | None:
    match = _NUMBER.search(comment.get(key) or "")
    return int(match.group(1)) if match else None


def add_comment(item: dict, comment: dict) -> None:
    """An entry of ``GET /repos/{owner}/{repo}/issues/comments``."""
    item["comments"][str(comment["id"])] = {
        "author": _login(comment.get("user")), "body": comment.get("body") or "",
        "created_at": comment["created_at"]}


def add_review_comment(item: dict, comment: dict) -> None:
    """An entry of ``GET /repos/{owner}/{repo}/pulls/comments``: a comment on a diff line."""
    line = comment.get("line") or comment.get("original_line")
    item["review_comments"][str(comment["id"])] = {
        "author": _login(comment.get("user")), "body": comment.get("body") or "",
        "created_at": comment["created_at"], "path": comment.get("path") or "",
        "line": line, "start_line": comment.get("start_line") or comment.get(
            "original_start_line")}


def _state(item: dict) -> str:
    if item["kind"] == "pull":
        if item.get("merged_at"):
            return "merged"
        return "draft" if item["state"] == "open" and item.get("draft") else item["state"]
    reason = item.get("state_reason")
    return f"{item['state']} ({reason})" if item["state"] == "closed" and reason else item["state"]


def _day(value: str | None) -> str:
    return value[:10] if value else ""


def render(item: dict, full_name: str) -> str:
    """The item as a Markdown document: headings give the chunker its sections."""
    what = "Pull request" if item["kind"] == "pull" else "Issue"
    lines = [f"# {what} #{item['number']}: {item['title'].strip()}", "",
             f"- Repository: {full_name}",
             f"- State: {_state(item)}",
             f"- Labels: {', '.join(item['labels']) or 'none'}",
             f"- Opened by @{item['author']} on {_day(item['created_at'])}"]
    if item.get("closed_at"):
        lines.append(f"- Closed on {_day(item['closed_at'])}")
    lines += ["", "## Description", "", item["body"].strip() or "(no description)"]
    comments = sorted(item["comments"].items(), key=lambda kv: (kv[1]["created_at"],
                                                                int(kv[0])))
    if comments:
        lines += ["", "## Comments"]
        for _, c in comments:
            lines += ["", f"### @{c['author']} on {_day(c['created_at'])}", "",
                      c["body"].strip()]
    reviews = sorted(item["review_comments"].items(),
                     key=lambda kv: (kv[1]["path"], kv[1]["line"] or 0, kv[1]["created_at"],
                                     int(kv[0])))
    if reviews:
        lines += ["", "## Review comments"]
        for _, c in reviews:
            where = c["path"]
            if c.get("line"):
                span = (f"lines {c['start_line']}-{c['line']}"
                        if c.get("start_line") and c["start_line"] != c["line"]
                        else f"line {c['line']}")
                where = f"{where}, {span}"
            lines += ["", f"### @{c['author']} on {where}", "",
                      f"Review comment on {where} ({_day(c['created_at'])}): "
                      + c["body"].strip()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Watermarks:
    """The newest ``updated_at`` seen per listing: the next run asks ``since=`` it."""

    issues: str | None = None
    comments: str | None = None
    review_comments: str | None = None


def newest(values: list[str], current: str | None) -> str | None:
    return max([v for v in values if v] + ([current] if current else []), default=None)
