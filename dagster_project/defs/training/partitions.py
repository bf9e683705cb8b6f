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
