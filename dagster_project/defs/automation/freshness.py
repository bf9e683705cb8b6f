"""How old the retrieval index may get: at most six hours (warn at four).

Dagster 1.13 declares this with a ``FreshnessPolicy`` on the asset; the daemon evaluates it and
the UI shows the asset as fresh, warning or failing. The policy belongs on ``rag_index``, which
another module defines: attach it there (``@dg.asset(freshness_policy=RAG_INDEX_FRESHNESS)``)
or to the index domain's list of assets with ``with_index_freshness([...])``.

``freshness_checks()`` is the older mechanism (an asset check plus the sensor that runs it;
Dagster marks it superseded by the policy). Use it where a check record is wanted, e.g. to
alert through check results. It is built on demand, not at import: a check on an asset that
does not exist yet makes Dagster invent an external ``rag_index`` stub in the graph.
"""

import warnings
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

RAG_INDEX_KEY = dg.AssetKey("rag_index")
# Refreshed every two hours: warn once one refresh was missed, fail once two were.
RAG_INDEX_WARN_AGE = timedelta(hours=4)
RAG_INDEX_MAX_AGE = timedelta(hours=6)

RAG_INDEX_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=RAG_INDEX_MAX_AGE,
                                                     warn_window=RAG_INDEX_WARN_AGE)

AssetLike = dg.AssetsDefinition | dg.AssetSpec


def with_index_freshness(assets: Sequence[AssetLike], key: dg.AssetKey = RAG_INDEX_KEY,
                         policy: dg.FreshnessPolicy = RAG_INDEX_FRESHNESS) -> list[AssetLike]:
    """``assets`` with ``policy`` on the asset ``key``, unless that asset declares its own."""

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key != key:
            return spec
        return dg.apply_freshness_policy(spec, policy, overwrite_existing=False)

    return list(dg.map_asset_specs(attach, assets))


def freshness_checks(key: dg.AssetKey = RAG_INDEX_KEY,
                     max_age: timedelta = RAG_INDEX_MAX_AGE) -> dg.Definitions:
    """A last-update freshness check on ``key`` and the sensor that evaluates it."""
    name = f"{key.to_python_identifier()}_freshness_checks_sensor"
    with warnings.catch_warnings():
        # Superseded by FreshnessPolicy, on purpose: these yield check records.
        warnings.simplefilter("ignore", category=dg.SupersessionWarning)
        checks = dg.build_last_update_freshness_checks(assets=[key], lower_bound_delta=max_age)
        sensor = dg.build_sensor_for_freshness_checks(freshness_checks=checks, name=name)
    return dg.Definitions(asset_checks=checks, sensors=[sensor])
