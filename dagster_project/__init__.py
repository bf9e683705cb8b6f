"""Dagster wrapping of the Knowledge Compiler libraries: assets, checks, schedules, sensors."""
