"""Whose eyes an evaluation reads through: a tenant's own members, never wider."""

from __future__ import annotations

from retrieval.access import Principal
from settings.config import Settings


def tenant_principal(settings: Settings, tenant: str) -> Principal:
    """What the tenant's own members may read: its sources' groups, its tenant only."""
    groups = {g for s in settings.sources if s.tenant == tenant for g in s.acl_groups}
    return Principal(user=f"eval-{tenant}", groups=frozenset(groups),
                     tenants=frozenset({tenant}))
