"""One base model in memory and every tenant's LoRA adapter loaded beside the others.

The first adapter wraps the base (`PeftModel.from_pretrained`), the others are added to it
(`load_adapter(path, adapter_name=...)`); a request takes the model's lock, activates its
tenant's adapter (`set_adapter`) or disables adapters for the base, and answers. A LoRA adapter
of a 135M base is a few MB, so many tenants cost little memory; the lock means one generation
at a time (what a CPU does well anyway).

Champions come from the MLflow registry (`models:/kc-<tenant>@champion`). A reload resolves
every tenant's alias again and swaps in the versions that changed: the new adapter is loaded
under a fresh name before the old one is deleted, so requests never see a missing adapter.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from answering import AnsweringModel, model_window

log = logging.getLogger("kc.serve")


@dataclass(frozen=True)
class LoadedAdapter:
    tenant: str
    peft_name: str  # the adapter's name inside the PeftModel (unique per load)
    path: Path
    version: str | None  # the registry version (None: loaded from a folder)


# tenant -> (version, adapter folder, base model path recorded with the version)
ChampionSource = Callable[[Sequence[str]], Mapping[str, tuple[str, Path, str]]]


class AdapterPool:
    """The base model, its tokenizer and the tenants' adapters, switched under one lock."""

    def __init__(self, base_path: str | Path, *,
                 generation_timeout_s: float | None = None) -> None:
        from training.base_model import load_causal_lm

        model, tokenizer = load_causal_lm(base_path)
        if generation_timeout_s is not None:
            # `generate` adds a MaxTimeCriteria from the model's generation config, so every
            # arm's generation (batched or streamed) stops after this many seconds.
            model.generation_config.max_time = generation_timeout_s
        self.base_path = Path(base_path)
        self.model: Any = model
        self.tokenizer = tokenizer
        self.window = model_window(model)
        self.lock = threading.Lock()
        self.adapters: dict[str, LoadedAdapter] = {}
        self._names = itertools.count(1)

    # ------------------------------------------------------------------ loading
    def load(self, tenant: str, adapter_dir: str | Path, version: str | None = None) -> None:
        """Load (or replace) the tenant's adapter. Safe while requests are being answered."""
        from peft import PeftModel

        path = Path(adapter_dir)
        if not (path / "adapter_config.json").exists():
            raise FileNotFoundError(f"{path} holds no LoRA adapter (adapter_config.json missing)")
        name = f"{tenant}__{next(self._names)}"  # '.' is not allowed in a module name
        with self.lock:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(path), adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
            self.model.eval()
            old = self.adapters.get(tenant)
            self.adapters[tenant] = LoadedAdapter(tenant, name, path, version)
            if old is not None:
                self._delete(old.peft_name)

    def unload(self, tenant: str) -> None:
        with self.lock:
            old = self.adapters.pop(tenant, None)
            if old is not None:
                self._delete(old.peft_name)

    def _delete(self, peft_name: str) -> None:
        remaining = [a.peft_name for a in self.adapters.values()]
        if not remaining:
            return  # peft keeps at least one adapter; an unmapped one is never activated
        self.model.set_adapter(remaining[0], inference_mode=True)
        self.model.delete_adapter(peft_name)

    def refresh(self, tenants: Sequence[str], champions: ChampionSource) -> dict[str, str | None]:
        """Resolve the tenants' champions and load those that changed; returns tenant ->
        version served (None: no champion, the tenant's closed-book models are unavailable)."""
        found = champions(tenants)
        served: dict[str, str | None] = {}
        for tenant in tenants:
            if tenant not in found:
                self.unload(tenant)
                served[tenant] = None
                continue
            version, adapter_dir, base = found[tenant]
            if not _same_base(base, self.base_path):
                log.error("kc serve: %s version %s was trained on %s, not the served base %s; "
                          "not serving it", tenant, version, base, self.base_path)
                self.unload(tenant)
                served[tenant] = None
                continue
            current = self.adapters.get(tenant)
            if current is None or current.version != version:
                self.load(tenant, adapter_dir, version)
            served[tenant] = version
        return served

    # ------------------------------------------------------------------ answering
    def has_adapter(self, tenant: str) -> bool:
        return tenant in self.adapters

    @contextmanager
    def use(self, tenant: str | None) -> Iterator[AnsweringModel]:
        """Hold the model with `tenant`'s adapter active (None, or no adapter: the base)."""
        with self.lock:
            adapter = self.adapters.get(tenant) if tenant is not None else None
            if adapter is not None:
                self.model.set_adapter(adapter.peft_name, inference_mode=True)
                label = f"kc-{tenant}" + (f"/{adapter.version}" if adapter.version else "")
                yield AnsweringModel(self.model, self.tokenizer, self.window, label)
            elif hasattr(self.model, "disable_adapter"):
                with self.model.disable_adapter():
                    yield AnsweringModel(self.model, self.tokenizer, self.window, "base")
            else:
                yield AnsweringModel(self.model, self.tokenizer, self.window, "base")


def _same_base(recorded: str, served: Path) -> bool:
    """Whether a version's recorded base (the folder it was trained on, as the pipeline logs
    it) is the served one: an adapter read over another base answers noise."""
    return Path(recorded).resolve() == served.resolve()


def registry_champions(tenants: Sequence[str]) -> dict[str, tuple[str, Path, str]]:
    """tenant -> (champion version, local adapter folder, recorded base) from the active MLflow
    registry; tenants without a champion are left out."""
    from training import registry
    from training.loading import registered_paths

    out = {}
    for tenant in tenants:
        name = registry.registered_name(tenant)
        version = registry.champion_version(name)
        if version is None:
            continue
        base, adapter = registered_paths(f"models:/{name}/{version}")
        out[tenant] = (version, adapter, str(base))
    return out
