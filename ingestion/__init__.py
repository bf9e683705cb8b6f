"""Ingestion: documents folders and git repositories into the DuckDB raw layer.

No dagster here: the Dagster assets in ``dagster_project`` call ``ingestion.pipeline``.
"""
