"""`kc serve`'s state: who may ask what, the model pool, the index and the limits, built from
kc.yaml (champions from the MLflow registry) or from adapter folders."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from answering import ArmSettings
from knowledge_compiler.serving import protocol
from knowledge_compiler.serving.adapters import AdapterPool, ChampionSource, registry_champions
from knowledge_compiler.serving.auth import ApiKeys
from knowledge_compiler.serving.limits import Gate
from knowledge_compiler.serving.protocol import ADAPTER_ARMS, APIError
from retrieval.access import Principal
from settings.config import ConfigError, Settings

log = logging.getLogger("kc.serve")


class ServeContext:
    """Everything a request needs: who may ask what, the model pool, the index, the limits."""

    def __init__(self, settings: Settings, pool: AdapterPool, index: Any,
                 keys: ApiKeys, champions: ChampionSource | None = None) -> None:
        self.settings = settings
        self.limits = settings.serve
        self.pool = pool
        self.index = index
        self.keys = keys
        self.champions = champions
        self.arm_settings = ArmSettings(k=settings.serve.k or settings.evaluation.k,
                                        mode=settings.retrieval.mode,
                                        max_new_tokens=settings.serve.max_new_tokens,
                                        batch_size=1)
        self.gate = Gate(settings.serve.max_concurrent_requests, settings.serve.retry_after_s)
        self.executor = ThreadPoolExecutor(settings.serve.max_concurrent_requests,
                                           thread_name_prefix="kc-serve")
        self.created = int(time.time())
        self._reload_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings: Settings) -> ServeContext:
        """Production: the configured base, the index, champions from the MLflow registry."""
        from training import registry
        from training.compile_inputs import base_for

        keys = api_keys(settings)
        registry.Tracking.local(settings.kc_home).activate()
        pool = AdapterPool(base_for(settings)[1],
                           generation_timeout_s=settings.serve.generation_timeout_s)
        ctx = cls(settings, pool, open_index(settings), keys, registry_champions)
        ctx.reload()
        return ctx

    @classmethod
    def from_adapters(cls, settings: Settings, base_path: str | Path,
                      adapters: Mapping[str, str | Path], index: Any = None,
                      environ: Mapping[str, str] | None = None) -> ServeContext:
        """Adapters from folders ({tenant: adapter folder}) instead of the registry: for tests
        and for serving a compile that was never registered. `POST /admin/reload` then has
        nothing to resolve."""
        keys = api_keys(settings, environ)
        pool = AdapterPool(base_path, generation_timeout_s=settings.serve.generation_timeout_s)
        for tenant, folder in adapters.items():
            pool.load(tenant, folder)
        return cls(settings, pool, index, keys, None)

    @classmethod
    def from_registry(cls, settings: Settings, base_path: str | Path, index: Any = None,
                      environ: Mapping[str, str] | None = None) -> ServeContext:
        """Champions from the active MLflow registry over the base at `base_path`."""
        keys = api_keys(settings, environ)
        pool = AdapterPool(base_path, generation_timeout_s=settings.serve.generation_timeout_s)
        ctx = cls(settings, pool, index, keys, registry_champions)
        ctx.reload()
        return ctx

    def reload(self) -> dict[str, str | None]:
        """Resolve each tenant's champion again; a promotion is served from now on."""
        if self.champions is None:
            raise APIError(409, "this server serves adapter folders, not the registry: "
                           "nothing to reload", "invalid_request_error", "no_registry")
        with self._reload_lock:
            served = self.pool.refresh(self.settings.tenants, self.champions)
        log.info("kc serve: champions %s", served)
        return served

    # ------------------------------------------------------------------ access
    def tenants_of(self, user: str) -> list[str]:
        return self.settings.user_tenants(user)

    def principal(self, user: str, tenant: str) -> Principal:
        return Principal(user=user, groups=frozenset(self.settings.user_groups(user)),
                         tenants=frozenset({tenant}))

    def available(self, tenant: str, arm: str) -> bool:
        if arm in ADAPTER_ARMS:
            return self.pool.has_adapter(tenant)
        return self.index is not None

    def models_for(self, user: str) -> list[tuple[str, str]]:
        return [(tenant, arm) for tenant in self.tenants_of(user)
                for arm in protocol.ARM_SUFFIXES.values() if self.available(tenant, arm)]

    def resolve(self, user: str, name: str) -> tuple[str, str]:
        """(tenant, arm) of a model the user may use; 404 for a name that is no model, 403
        for a tenant outside the user's (existing or not: the answer is the same)."""
        parsed = protocol.parse_model(name)
        if parsed is None:
            raise protocol.model_not_found(name)
        tenant, arm = parsed
        if tenant not in self.tenants_of(user):
            raise protocol.forbidden()
        if not self.available(tenant, arm):
            why = (" yet: the tenant has no champion adapter (run `kc run`)"
                   if arm in ADAPTER_ARMS else ": the server has no index (run `kc run`)")
            raise protocol.model_not_found(name, why)
        return tenant, arm


def api_keys(settings: Settings, environ: Mapping[str, str] | None = None) -> ApiKeys:
    if not settings.serve.api_keys:
        raise ConfigError(f"{settings.config_path}: serve.api_keys is empty: every request "
                          "would be refused; map users to keys (docs/serving.md)")
    return ApiKeys.from_config(settings.serve.api_keys, environ, known_users=set(settings.users))


def open_index(settings: Settings) -> Any:
    """The chunk index as `kc ask` opens it, or None when there is none yet."""
    from retrieval.embedder import embedder_for
    from retrieval.index import ChunkIndex

    if not (settings.index_path / "chunks.lance").exists():
        log.warning("kc serve: no index at %s: only closed-book models are served",
                    settings.index_path)
        return None
    return ChunkIndex(settings.index_path, embedder_for(settings))
