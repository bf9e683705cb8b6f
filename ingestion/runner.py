"""Ingest every configured source into the warehouse, one transaction per source."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from ingestion.config import IngestionConfig, SourceSpec
from ingestion.git_reader import GitError
from ingestion.github.errors import GitHubError
from ingestion.github.ingest import ingest_github
from ingestion.parsing import ParserWorker
from ingestion.pipeline import IngestReport, Progress, ingest_source
from ingestion.warehouse import connect


def ingest_all(warehouse: Path, specs: Sequence[SourceSpec], cfg: IngestionConfig, *,
               home: Path, now: datetime | None = None,
               progress: Callable[[str], Progress] | None = None) -> list[IngestReport]:
    """Ingest each source in turn; one source's failure to list (missing folder, bad
    repository) is raised after the other sources have been ingested."""
    reports, errors = [], []
    with ParserWorker(cfg.parse_timeout_s, cfg.parse_memory_mb) as worker, \
            connect(warehouse) as con:
        for spec in specs:
            try:
                if spec.type == "github" and spec.github is not None:
                    reports.extend(ingest_github(con, spec, cfg, home=home, worker=worker,
                                                 now=now, progress=progress))
                    continue
                reports.append(ingest_source(con, spec, cfg, home=home, worker=worker, now=now,
                                             progress=progress(spec.name) if progress else None))
            except (FileNotFoundError, NotADirectoryError, GitError, GitHubError) as exc:
                errors.append(f"{spec.name}: {exc}")
    if errors:
        raise SourceUnavailable("; ".join(errors))
    return reports


class SourceUnavailable(RuntimeError):
    """A configured source could not be read at all (the others were ingested)."""
