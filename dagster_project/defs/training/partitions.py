import warnings

import dagster as dg

# Tenants come from kc.yaml, which is read at run time, not at import: `kc` (and the
# source-change sensor) add one partition per tenant before launching per-tenant runs.
TENANTS = dg.DynamicPartitionsDefinition(name="tenants")


def sync_tenant_partitions(instance: dg.DagsterInstance, tenants: list[str]) -> list[str]:
    """Add partitions for tenants kc.yaml declares; returns the ones that were new."""
    existing = set(instance.get_dynamic_partitions(TENANTS.name))
    new = [t for t in tenants if t not in existing]
    if new:
        instance.add_dynamic_partitions(TENANTS.name, new)
    return new


def tenant_check(name: str, asset: str, *, blocking: bool = False) -> dg.AssetCheckSpec:
    """A check on a tenant-partitioned asset, recorded for the partition it ran on: a check
    spec without `partitions_def` is recorded unpartitioned, and the UI then shows the
    asset's partitions as "not evaluated". (Dagster 1.13 marks the argument as preview; its
    warning is silenced here, where the choice is made, rather than on every import.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(name, asset=asset, blocking=blocking, partitions_def=TENANTS)
