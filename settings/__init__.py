"""The bottom layer: kc.yaml's schema and loading, the routing policy, offline defaults.

Every package may import it; it imports nothing of the project's but `ingestion.config`'s plain
dataclasses.
"""
