"""The routing policy: which documents a tenant's adapter learns and which are retrieved.

The dbt project (dbt/) applies the policy; this module is its typed, validated front end. The
defaults here equal the vars in dbt/dbt_project.yml (a test keeps them in step), and
``dbt_vars`` turns a policy plus kc.yaml's overrides into the dict for ``dbt ... --vars``::

    >>> import json
    >>> args = ["build", "--vars", json.dumps(dbt_vars(RoutingPolicy(), overrides=[],
    ...         source_policies=[], as_of=None))]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeFloat


class OverrideRoute(StrEnum):
    """Routes an explicit override may force; overflow is only ever decided by capacity."""

    VOLATILE = "volatile"
    STATIC = "static"
    EXCLUDED = "excluded"


class RouteOverride(BaseModel):
    """Force the route of the documents whose path matches ``glob``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_id: str | None = Field(
        default=None,
        min_length=1,
        description="Source whose documents the glob applies to; None applies it to every source.",
    )
    glob: str = Field(
        min_length=1,
        description=(
            "Path glob relative to the source root, with the semantics of the sources' include "
            "and exclude globs: '*' and '?' within one path segment, '**' any depth, '**/' also "
            "no directory. The first matching override in list order wins."
        ),
    )
    route: OverrideRoute = Field(description="volatile, static or excluded.")
    reason: str | None = Field(
        default=None, description="Shown in the document's route reason, e.g. 'legal hold'."
    )


class SourcePolicy(BaseModel):
    """Per-source thresholds; a missing threshold falls back to the policy's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_id: str = Field(min_length=1, description="The source name from kc.yaml.")
    min_stable_days: int | None = Field(default=None, ge=0)
    max_changes_90d: int | None = Field(default=None, ge=0)


class RoutingPolicy(BaseModel):
    """Thresholds, adapter capacity and cost model of the routing (DESIGN.md, "Routing policy")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_stable_days: int = Field(
        default=30,
        ge=0,
        description=("A document first seen or last changed fewer days ago than this is volatile."),
    )
    max_changes_90d: int = Field(
        default=4,
        ge=0,
        description="A document changed more often than this in the last 90 days is volatile.",
    )
    bits_per_param: float = Field(
        default=2.0,
        gt=0,
        description=(
            "Fact bits one trainable parameter stores. 2.0 is the Allen-Zhu & Li extractable-"
            "knowledge anchor; the training stage measures the adapter's and overrides it."
        ),
    )
    adapter_trainable_params: int = Field(
        default=9_768_960,
        gt=0,
        description=(
            "Trainable parameters of a tenant's adapter. Unless kc.yaml sets it, computed from "
            "the base and the LoRA settings (`Settings.adapter_trainable_params`); the default "
            "is the default adapter: LoRA r=32 on every linear layer of SmolLM2-135M "
            "(30 layers x 32 x 10,176)."
        ),
    )
    capacity_safety_factor: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the measured capacity the static content may use.",
    )
    bits_per_fact: float = Field(
        default=24,
        gt=0,
        description=(
            "Bits per distinct fact token: ~16 for a value out of a plausible answer space "
            "plus ~8 for the relation it answers."
        ),
    )
    questions_per_day: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="Expected questions per day, per tenant."
    )
    default_questions_per_day: float = Field(
        default=50, ge=0, description="Questions per day of a tenant not in questions_per_day."
    )
    retrieved_tokens_per_question: int = Field(
        default=1000, gt=0, description="Prompt tokens retrieval adds to each question."
    )
    price_per_m_prompt_tokens: float = Field(
        default=0.5, ge=0, description="USD per million prompt tokens at answer time."
    )
    training_cost_per_m_tokens: float = Field(
        default=2.0, ge=0, description="USD per million tokens trained on."
    )
    qa_expansion_factor: float = Field(
        default=8,
        gt=0,
        description="Tokens of synthetic question-answer data per token of source text.",
    )
    epochs: int = Field(default=3, gt=0, description="Training epochs over the QA data.")
    as_of: Literal["now", "last_commit"] | AwareDatetime = Field(
        default="now",
        description=(
            "The instant ages and change windows are measured from: 'now' (the run's start), "
            "'last_commit' (the newest commit of the ingested repositories, to replay a quiet "
            "repository as it stood) or a timestamp with a timezone."
        ),
    )
    cost_rule_enabled: bool = Field(
        default=False,
        description=(
            "Let the cost model decide: a static document cheaper to retrieve than to compile "
            "over its expected stable lifetime goes volatile. Off: the costs are only shown."
        ),
    )


def dbt_vars(
    policy: RoutingPolicy,
    *,
    overrides: Sequence[RouteOverride],
    source_policies: Sequence[SourcePolicy | Mapping[str, Any]],
    as_of: datetime | None,
) -> dict[str, Any]:
    """The ``--vars`` dict for the dbt project (JSON-serialisable).

    ``as_of`` is "now" for every age and window; None falls back to ``policy.as_of`` ("now" lets
    dbt use the run's start time; "last_commit" is resolved in SQL from ``raw.git_commits``). It
    must carry a timezone: the warehouse is UTC and a naive time would be guessed at.
    """
    if as_of is not None and as_of.utcoffset() is None:
        raise ValueError(
            f"as_of {as_of.isoformat()} has no timezone; pass an aware datetime, "
            "e.g. datetime.now(UTC)"
        )
    policies = [SourcePolicy.model_validate(p) for p in source_policies]
    seen: set[str] = set()
    for source_policy in policies:
        if source_policy.source_id in seen:
            raise ValueError(
                f"source_policies names source {source_policy.source_id!r} more than once; "
                "merge its thresholds into one entry"
            )
        seen.add(source_policy.source_id)
    chosen = as_of if as_of is not None else policy.as_of
    return {
        **policy.model_dump(mode="json", exclude={"as_of"}),
        "as_of": (None if chosen == "now" else chosen if isinstance(chosen, str)
                  else chosen.astimezone(UTC).isoformat()),
        "route_overrides": [override.model_dump(mode="json") for override in overrides],
        "source_policies": [p.model_dump(mode="json") for p in policies],
    }
