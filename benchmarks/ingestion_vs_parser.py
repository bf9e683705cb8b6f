"""Ingestion side by side with the raw parser, on the same files, in the same run.

Per format: our whole ingestion of a folder (read, hash, decode, parse in the worker process,
scrub, chunk, write DuckDB in one transaction) against bare ``unstructured`` ``partition_*`` on
the same bytes in-process. Git: our history + tree reading against a bare
``git log --no-renames --numstat -z``. Ratios > 1 mean we are slower than the bare tool: the
price of isolation, scrubbing and storage. Run: ``python -m benchmarks.ingestion_vs_parser``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import COLUMNS, best_of, publish, result_row
from settings.offline import apply_offline_defaults

apply_offline_defaults()

COPIES = 4  # the sample corpus has 7-15 files per format: repeat them for stabler timings
# Goals: scrubbing, chunking, hashing, the worker round trip and the DuckDB write may at most
# double the bare parser's time (ratio 3); reading history may cost half again the bare git log.
FORMAT_GOAL = 3.0
GIT_GOAL = 1.5


def _corpus(root: Path) -> Path:
    from examples.northwind.build import build_corpus

    build_corpus(root / "northwind")
    return root / "northwind"


def _files_by_format(corpus: Path) -> dict[str, list[Path]]:
    from ingestion.formats import detect_format

    out: dict[str, list[Path]] = {}
    for path in sorted((corpus / "documents").rglob("*")):
        fmt = detect_format(path.name) if path.is_file() else None
        if fmt:
            out.setdefault(fmt, []).append(path)
    return out


def _raw_partition(fmt: str, data: bytes) -> int:
    from ingestion.decoding import decode_text
    from ingestion.parsing import _partition

    payload = decode_text(data)[0] if fmt in ("md", "txt", "html") else data
    return len(_partition(fmt, payload))


def bench_formats(corpus: Path, work: Path, repeat: int) -> list[dict]:
    from ingestion import offline_nlp
    from ingestion.config import IngestionConfig, SourceSpec
    from ingestion.parsing import ParserWorker, run_selfcheck
    from ingestion.pipeline import ingest_source
    from ingestion.warehouse import connect

    offline_nlp.install()
    rows = []
    with ParserWorker(60, 4096, selfcheck=False) as worker:
        run_selfcheck(worker)  # start-up and imports outside the timed region
        for fmt, files in _files_by_format(corpus).items():
            blobs = [p.read_bytes() for p in files] * COPIES
            folder = work / f"fmt-{fmt}"
            folder.mkdir()
            for i, data in enumerate(blobs):
                (folder / f"{i:03d}.{files[0].suffix.lstrip('.')}").write_bytes(data)
            megabytes = sum(len(b) for b in blobs) / 1e6
            _raw_partition(fmt, blobs[0])  # warm the in-process parser
            raw_s = best_of(lambda blobs=blobs, fmt=fmt: [_raw_partition(fmt, b) for b in blobs],
                            repeat)
            spec = SourceSpec(name=f"bench-{fmt}", type="documents", tenant="t",
                              acl_groups=("g",), path=folder)

            def ours(spec=spec, fmt=fmt) -> None:
                db = work / f"{fmt}-{time.perf_counter_ns()}.duckdb"
                with connect(db) as con:
                    report = ingest_source(con, spec, IngestionConfig(), home=work,
                                           worker=worker)
                assert report.failed == 0, report.failures

            ours_s = best_of(ours, repeat)
            n = len(blobs)
            rows.append(result_row(
                f"ingest {fmt} ({n} files)", "unstructured partition_* in-process", ours_s, raw_s,
                "s", ours_s / raw_s, f"<= {FORMAT_GOAL:g}", ours_s / raw_s <= FORMAT_GOAL,
                MB=round(megabytes, 3), ours_docs_per_s=n / ours_s, peer_docs_per_s=n / raw_s))
    return rows


def bench_git(corpus: Path, work: Path, repeat: int) -> list[dict]:
    from ingestion import git_reader
    from ingestion.config import IngestionConfig, SourceSpec
    from ingestion.parsing import ParserWorker
    from ingestion.pipeline import ingest_source
    from ingestion.warehouse import connect

    rows = []
    for repo in sorted((corpus / "repos").iterdir()):
        head = git_reader.resolve(repo)
        n_commits = len(git_reader.history(repo, head))

        def bare(repo=repo) -> None:
            subprocess.run(["git", "-C", str(repo), "log", "--no-renames", "--numstat", "-z",
                            "HEAD"], check=True, capture_output=True)

        bare_s = best_of(bare, repeat)
        ours_s = best_of(lambda repo=repo, head=head: git_reader.history(repo, head), repeat)
        spec = SourceSpec(name=repo.name, type="git", tenant="t", acl_groups=("g",), path=repo)
        with ParserWorker(60, 4096) as worker:
            started = time.perf_counter()
            with connect(work / f"git-{repo.name}.duckdb") as con:
                ingest_source(con, spec, IngestionConfig(), home=work, worker=worker)
            full_s = time.perf_counter() - started
        rows.append(result_row(
            f"git history {repo.name} ({n_commits} commits)", "git log --numstat", ours_s,
            bare_s, "s", ours_s / bare_s, f"<= {GIT_GOAL:g}", ours_s / bare_s <= GIT_GOAL,
            ours_commits_per_s=n_commits / ours_s, peer_commits_per_s=n_commits / bare_s,
            **{"full_ingest_s (tree+history+parse+db, cold worker)": round(full_s, 2)}))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = _corpus(work)
        rows = bench_formats(corpus, work, args.repeat) + bench_git(corpus, work, args.repeat)
        shutil.rmtree(corpus, ignore_errors=True)
    publish("ingestion_vs_parser", rows, notes=__doc__ or "", columns=list(COLUMNS))
    return rows


if __name__ == "__main__":
    main()


