"""The report's first screen: the heading, the verdict and the glossary.

The verdict names the best arm for static and for volatile questions (exact match; a tie goes
to the cheaper arm in prompt tokens) and the promotion decision with the gate's reason, which
the caller records in the summary under `promotion`:

    {"model": "kc-acme", "candidate_version": "3", "champion_before": "2",
     "promoted": true, "reason": "at least as accurate as the champion on ..."}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from evaluation.report.style import (
    ARM_GLOSSARY,
    SET_GLOSSARY,
    STATIC_SETS,
    VOLATILE_SETS,
    arm_colour,
    ordered_arms,
    ordered_sets,
    percent,
    results_of,
)

NOT_AN_ANSWER = frozenset({"rag_ceiling"})


def swatch(arm: str) -> str:
    return f'<span class="sw" style="background:{arm_colour(arm)}"></span>'


def best_arm(by_arm: Mapping[str, Mapping[str, Any]]) -> tuple[str, float] | None:
    """The answering arm with the highest exact match (ties: fewer prompt tokens, then arm
    order); None when no arm was scored."""
    scored = [(arm, f["exact_match"], f.get("prompt_tokens") or 0.0, i)
              for i, arm in enumerate(ordered_arms(by_arm))
              if arm not in NOT_AN_ANSWER and (f := by_arm[arm])
              and f.get("exact_match") is not None]
    if not scored:
        return None
    arm, em, _, _ = min(scored, key=lambda s: (-s[1], s[2], s[3]))
    return arm, em


def _kind_clause(kind: str, summary: Mapping[str, Any], sets: Sequence[str]) -> str | None:
    results = results_of(summary)
    qset = next((s for s in sets if results.get(s)), None)
    if qset is None:
        return None
    found = best_arm(results[qset])
    if found is None:
        return None
    arm, em = found
    if em == 0:
        return f"no arm answered {kind} questions correctly (<i>{escape(qset)}</i>)"
    # Compare with the compiled model (the question the report answers: weights or
    # retrieval?), else with the next best arm.
    others = {a: f for a, f in results[qset].items() if a != arm}
    runner_up = (("compiled", others["compiled"]["exact_match"])
                 if (others.get("compiled") or {}).get("exact_match") is not None
                 else best_arm(others))
    versus = (f", against {escape(runner_up[0])} {percent(runner_up[1])}"
              if runner_up else "")
    return (f"use <b>{swatch(arm)}{escape(arm)}</b> for {kind} questions "
            f"({percent(em)} exact match on <i>{escape(qset)}</i>{versus})")


def _promotion_sentence(promotion: Mapping[str, Any] | None) -> str:
    if not promotion:
        return "No promotion decision was recorded with this report."
    candidate = promotion.get("candidate_version")
    before = promotion.get("champion_before")
    reason = escape(str(promotion.get("reason") or "no reason recorded"))
    who = f"Candidate v{escape(str(candidate))}" if candidate else "The candidate"
    if promotion.get("promoted"):
        if before is not None and str(before) == str(candidate):
            return f"{who} stays champion: {reason}."
        return f"{who} <b>was promoted</b> to champion: {reason}."
    stays = (f" (v{escape(str(before))} stays champion)" if str(before or "").isdigit()
             else "")
    return f"{who} <b>was not promoted</b>{stays}: {reason}."


def verdict_html(summary: Mapping[str, Any]) -> str:
    """One or two sentences: which arm for which kind of question, and the promotion."""
    clauses = [c for c in (_kind_clause("static", summary, STATIC_SETS),
                           _kind_clause("volatile", summary, VOLATILE_SETS)) if c]
    first = ("; ".join(clauses) + ".") if clauses else "No question set was scored."
    first = first[0].upper() + first[1:]
    promotion = summary.get("promotion")
    refused = bool(promotion) and not promotion.get("promoted")
    css = "verdict refused" if refused else "verdict"
    return (f'<p class="{css}" id="verdict">{first} {_promotion_sentence(promotion)}</p>')


def heading_html(summary: Mapping[str, Any], title: str) -> str:
    """Title with the tenant and date; below it the versions and the base model."""
    models = summary.get("models") or {}
    promotion = summary.get("promotion") or {}
    tenant = models.get("tenant")
    date = str(summary.get("evaluated_at") or "")[:10]
    head = title + (f": {tenant}" if tenant else "") + (f", {date}" if date else "")
    parts = []
    if promotion.get("model"):
        parts.append(f"model {escape(str(promotion['model']))}")
    if promotion:
        parts.append(f"candidate {escape(_version(promotion.get('candidate_version') or '?'))}")
        before = promotion.get("champion_before")
        parts.append("no previous champion" if before is None else
                     f"previous champion {escape(_version(before))}")
    else:
        parts.append("candidate and champion not recorded")
    parts.append(f"base model {escape(str(models.get('base_model') or '?'))}")
    return (f'<h1 id="title">{escape(head)}</h1>'
            f'<p class="sub">{" · ".join(parts)}</p>')


def _version(value: object) -> str:
    return f"v{value}" if str(value).isdigit() else str(value)


def glossary_html(summary: Mapping[str, Any]) -> str:
    results = results_of(summary)
    arms = ordered_arms({a for by_arm in results.values() for a in by_arm})
    arm_items = "".join(f"<dt>{swatch(a)}{escape(a)}</dt><dd>{escape(ARM_GLOSSARY.get(a, ''))}"
                        "</dd>" for a in arms)
    set_items = "".join(f"<dt>{escape(s)}</dt><dd>{escape(SET_GLOSSARY.get(s, ''))}</dd>"
                        for s in ordered_sets(results))
    return (f'<div class="glossary"><div><b>Arms</b><dl>{arm_items}</dl></div>'
            f"<div><b>Question sets</b><dl>{set_items}</dl></div></div>")
