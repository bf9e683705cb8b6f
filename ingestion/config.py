"""Typed configuration of ingestion, built from kc.yaml (`settings.config.Settings`)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingestion.github.config import GitHubSpec, github_spec
from settings.config import Settings

SourceType = Literal["documents", "git", "github"]

# Folders that hold other people's code or build output, not the organisation's knowledge.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "**/.git/**", "**/node_modules/**", "**/vendor/**", "**/third_party/**", "**/dist/**",
    "**/build/**", "**/.venv/**", "**/venv/**", "**/__pycache__/**", "**/*.min.js",
    "**/*.min.css", "**/*_pb2.py", "**/*.lock", "**/package-lock.json", "**/*.map",
    "**/.DS_Store",
)


@dataclass(frozen=True)
class SourceSpec:
    """One source of knowledge: a documents folder, a git repository, or GitHub repositories.

    A ``github`` source as configured carries ``github`` settings and no location; each
    repository it lists is ingested as a ``github`` source of its own whose ``url`` is the
    repository's web address (``ingestion.github.ingest``).
    """

    name: str
    type: SourceType
    tenant: str
    acl_groups: tuple[str, ...]
    path: Path | None = None  # a local folder or a local git repository
    url: str | None = None  # a git URL, cloned under $KC_HOME/repos
    ref: str = "HEAD"
    include: tuple[str, ...] = ("**/*",)
    exclude: tuple[str, ...] = ()
    route: str | None = None  # explicit route override for the whole source
    github: GitHubSpec | None = None  # type: github only

    def __post_init__(self) -> None:
        if self.type == "github":
            if self.path is not None:
                raise ValueError(f"source {self.name!r}: type github takes `github` settings "
                                 "(owner, repos, api_url, token_env), not `path`")
            if (self.github is None) == (self.url is None):
                raise ValueError(f"source {self.name!r}: type github needs `github` settings "
                                 "(owner, repos, api_url, token_env)")
            return
        if self.github is not None:
            raise ValueError(f"source {self.name!r}: `github` settings are only valid for "
                             "type: github")
        if (self.path is None) == (self.url is None):
            raise ValueError(f"source {self.name!r}: give exactly one of `path` or `url`")
        if self.url is not None and self.type != "git":
            raise ValueError(f"source {self.name!r}: `url` is only valid for type: git")


@dataclass(frozen=True)
class IngestionConfig:
    """How files become chunks."""

    chunk_tokens: int = 200  # all-MiniLM-L6-v2 reads 256 word pieces; leave room for the section
    chunk_overlap: int = 32
    max_file_mb: float = 20.0
    parse_timeout_s: float = 60.0
    parse_memory_mb: int = 2048
    redact_emails: bool = True
    redact_phones: bool = True
    tokenizer_path: Path | None = None  # a tokenizer.json; default: the MiniLM word pieces
    default_excludes: tuple[str, ...] = field(default=DEFAULT_EXCLUDES)

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise ValueError("ingestion.chunk_tokens must be at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError("ingestion.chunk_overlap must be in [0, chunk_tokens / 2)")
        if self.max_file_mb <= 0 or self.parse_timeout_s <= 0:
            raise ValueError("ingestion.max_file_mb and parse_timeout_s must be positive")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def source_specs(settings: Settings) -> list[SourceSpec]:
    """kc.yaml's sources, paths resolved against the file's folder."""
    return [SourceSpec(name=s.name, type=s.type, tenant=s.tenant,
                       acl_groups=tuple(s.acl_groups),
                       path=settings.resolve_path(s.path) if s.path else None, url=s.url,
                       ref=s.ref, include=tuple(s.include), exclude=tuple(s.exclude),
                       route=s.route, github=github_spec(s.github) if s.github else None)
            for s in settings.sources]


def ingestion_config(settings: Settings) -> IngestionConfig:
    return IngestionConfig(**settings.ingestion.model_dump())
