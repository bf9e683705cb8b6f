"""Vector search in LanceDB, flat and with ANN indexes, against exact numpy search.

Vectors come from the real embedding distribution: ~2,000 English sentences (docstrings of the
Python standard library: technical prose, like an engineering wiki) are embedded once with
MiniLM. More vectors are synthesised by *perturbing and renormalising*: pick a real embedding
``b`` at random, add ``ALPHA * g`` with ``g ~ N(0, Sigma)`` where ``Sigma`` is the covariance
fitted to the real embeddings, and scale to unit length. This keeps the real anisotropy (MiniLM
vectors fill a narrow cone) and the clustering (related chunks sit near one another) that a
plain isotropic Gaussian would lose. The JSON records the nearest-neighbour cosine of the real
set and of each synthetic set, so the likeness can be checked. Queries are 200 further draws.

Every query goes through ``retrieval.search`` itself, with the access prefilter on: ``all``
is a scope that reads every row (the filter still runs), ``tenant`` one that reads 1 tenant
of 10 (10 % of the rows), where ANN indexes are prone to return fewer than k. Ground truth is
numpy exact search over the same rows. A last section compares our hybrid fusion with
LanceDB's own hybrid query (RRFReranker) on the real sentences.
Run ``python -m benchmarks.index_search [--quick | --all]`` (default ~5 min on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import random
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import (
    COLUMNS,
    OUT,
    markdown_table,
    median,
    percentile,
    result_row,
    write_results,
)
from settings.offline import apply_offline_defaults

apply_offline_defaults()

from retrieval import (  # noqa: E402  (after the offline defaults, before any model loads)
    DEFAULT_VECTOR_INDEX,
    AccessScope,
    ChunkIndex,
    EmbedStats,
    SentenceTransformerEmbedder,
    VectorIndexPolicy,
    search,
)

ALPHA = 1.0  # noise scale, in units of the fitted covariance
K = 10
N_QUERIES = 200
N_TENANTS = 10
STDLIB = ("argparse", "asyncio", "calendar", "collections", "configparser", "contextlib",
          "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "fractions",
          "functools", "gzip", "hashlib", "heapq", "http.client", "imaplib", "inspect",
          "ipaddress", "itertools", "json", "locale", "logging", "mailbox", "os", "pathlib",
          "pickle", "pprint", "queue", "random", "re", "sched", "secrets", "shutil", "smtplib",
          "socket", "sqlite3", "ssl", "statistics", "string", "subprocess", "tarfile",
          "tempfile", "textwrap", "threading", "timeit", "tokenize", "traceback", "typing",
          "unittest", "urllib.parse", "uuid", "weakref", "xml.dom.minidom", "zipfile",
          "zoneinfo")


# ---------------------------------------------------------------------------- real text
def real_sentences(n: int = 2000, seed: int = 0) -> list[str]:
    """``n`` distinct English sentences of 6-50 words from standard-library docstrings."""
    found: set[str] = set()
    for name in STDLIB:
        module = importlib.import_module(name)
        for doc in _docstrings(module):
            for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                words = sentence.split()
                if 6 <= len(words) <= 50 and ">>>" not in sentence and sentence[0].isupper():
                    found.add(sentence)
    ordered = sorted(found)
    if len(ordered) < n:
        raise RuntimeError(f"only {len(ordered)} sentences found in the standard library")
    return random.Random(seed).sample(ordered, n)


def _docstrings(module: object) -> list[str]:
    docs = [inspect.getdoc(module) or ""]
    for _, member in inspect.getmembers(module):
        if getattr(member, "__module__", None) != getattr(module, "__name__", None):
            continue
        docs.append(inspect.getdoc(member) or "")
        if inspect.isclass(member):
            docs += [inspect.getdoc(m) or "" for _, m in inspect.getmembers(member)
                     if inspect.isfunction(m)]
    return docs


def real_embeddings(sentences: list[str]) -> np.ndarray:
    """MiniLM embeddings of ``sentences``, cached under benchmarks/out/ by content hash."""
    digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    cache = OUT / f"index_search_base_{digest}.npy"
    if cache.exists():
        return np.load(cache)
    embedder = SentenceTransformerEmbedder()
    vectors = embedder.embed_documents(sentences, batch_size=64)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


# ---------------------------------------------------------------------------- synthesis
def synthesise(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` unit vectors: a random real embedding plus fitted-covariance noise, renormalised."""
    rng = np.random.default_rng(seed)
    centred = base - base.mean(axis=0)
    cov = centred.T @ centred / (len(base) - 1)
    # Cholesky of a covariance from 2k points in 384 dims may be ill-conditioned: eigh is safe.
    eigval, eigvec = np.linalg.eigh(cov)
    root = eigvec * np.sqrt(np.clip(eigval, 0, None))
    picks = rng.integers(0, len(base), size=n)
    noise = rng.standard_normal((n, base.shape[1])).astype(np.float32) @ root.T
    out = base[picks] + ALPHA * noise.astype(np.float32)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def nn_cosine_median(vectors: np.ndarray, sample: int = 500, seed: int = 1) -> float:
    """Median cosine between a vector and its nearest other vector (a likeness check)."""
    rows = np.random.default_rng(seed).choice(len(vectors), min(sample, len(vectors)), False)
    sims = vectors[rows] @ vectors.T
    sims[np.arange(len(rows)), rows] = -1.0
    return float(np.median(sims.max(axis=1)))


# ---------------------------------------------------------------------------- harness
class LookupEmbedder:
    """Returns stored vectors for texts of the form ``v<i>``, so the benchmark runs the real
    sync and search code on synthetic vectors without a model."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.dim = vectors.shape[1]
        self.model_id = "benchmark-lookup"
        self.stats = EmbedStats()

    def embed_documents(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: bool = False) -> np.ndarray:
        self.stats.texts_embedded += len(texts)
        return self.vectors[[int(t[1:]) for t in texts]]

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[int(text[1:])]


def exact(matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    scores = matrix @ query
    top = np.argpartition(-scores, k)[:k]
    top = top[np.argsort(-scores[top])]
    return top, time.perf_counter() - started


def run_queries(index: ChunkIndex, queries: list[str], scope: AccessScope,
                truth: list[set[str]], limit: int | None = None) -> dict[str, float]:
    search(index, queries[0], scope, k=K)  # warm the caches before timing
    latencies, recalls = [], []
    for query, expected in list(zip(queries, truth, strict=True))[:limit]:
        started = time.perf_counter()
        hits = search(index, query, scope, k=K)
        latencies.append(time.perf_counter() - started)
        recalls.append(len(expected & {h.chunk_id for h in hits}) / K)
    return {"recall_at_10": float(np.mean(recalls)), "p50_ms": median(latencies) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000, "queries": len(latencies)}


def bench_size(n_rows: int, base: np.ndarray, work: Path, ivf_pq: bool,
               policy_only: bool = False) -> list[dict]:
    """Every config at ``n_rows``; ``policy_only``: numpy and the default policy alone."""
    dim = base.shape[1]
    corpus = synthesise(base, n_rows, seed=n_rows)
    query_vectors = synthesise(base, N_QUERIES, seed=n_rows + 1)
    everything = np.vstack([corpus, query_vectors])
    embedder = LookupEmbedder(everything)
    queries = [f"v{n_rows + i}" for i in range(N_QUERIES)]
    tenants = [f"t{i % N_TENANTS}" for i in range(n_rows)]
    rows = [{"chunk_id": f"c{i:07d}", "document_id": f"d{i // 8}", "tenant": tenants[i],
             "acl_groups": ["all"], "route": "volatile", "source_id": "bench", "path": None,
             "section": None, "text": f"v{i}"} for i in range(n_rows)]

    flat = VectorIndexPolicy(min_rows=n_rows + 1)  # never index: flat scan
    index = ChunkIndex(work / f"n{n_rows}", embedder=embedder, vector_index=flat)
    started = time.perf_counter()
    index.sync(rows)
    sync_s = time.perf_counter() - started

    scopes = {"all": AccessScope(frozenset(tenants), frozenset({"all"})),
              "tenant": AccessScope(frozenset({"t0"}), frozenset({"all"}))}
    subsets = {"all": np.arange(n_rows), "tenant": np.arange(0, n_rows, N_TENANTS)}
    truth, numpy_ms = {}, {}
    for name, subset in subsets.items():
        answers, times = [], []
        for q in query_vectors:
            top, seconds = exact(corpus[subset], q, K)
            answers.append({f"c{i:07d}" for i in subset[top]})
            times.append(seconds)
        truth[name], numpy_ms[name] = answers, times

    results = []
    common = {"rows": n_rows, "nn_cosine_real": nn_cosine_median(base),
              "nn_cosine_synthetic": nn_cosine_median(corpus)}
    for name in scopes:
        results.append({**common, "config": "numpy exact", "filter": name, "build_s": 0.0,
                        "recall_at_10": 1.0, "p50_ms": median(numpy_ms[name]) * 1000,
                        "p95_ms": percentile(numpy_ms[name], 0.95) * 1000})
        if policy_only:
            continue
        # A flat scan of 100k rows takes ~0.3 s: 40 queries give its median well enough.
        results.append({**common, "config": "lancedb flat", "filter": name, "build_s": sync_s,
                        **run_queries(index, queries, scopes[name], truth[name],
                                      limit=None if n_rows <= 20_000 else 40)})

    # IVF_PQ with 4,096 rows a partition (Lance's default is 8,192): sqrt(N) partitions
    # (316 at 100k) took minutes of k-means on 2 cores and was no more accurate at 10k.
    variants = {
        "ivf_pq": (VectorIndexPolicy(min_rows=0, kind="ivf_pq", rows_per_partition=4096,
                                     num_sub_vectors=dim // 8, nprobes=10),
                   [{"nprobes": 10, "refine_factor": 10}, {"nprobes": 30, "refine_factor": 10}]),
        # Partitioned as the default policy builds it (25k rows a partition, all probed).
        "ivf_hnsw_sq": (replace(DEFAULT_VECTOR_INDEX, min_rows=0),
                        [{"nprobes": 4, "ef": 32}, {"nprobes": 4, "ef": 64},
                         {"nprobes": 4, "ef": 128}]),
    }
    if not ivf_pq or policy_only:
        del variants["ivf_pq"]
    if policy_only:  # what retrieval uses above min_rows: DEFAULT_VECTOR_INDEX as it is
        variants["ivf_hnsw_sq"] = (variants["ivf_hnsw_sq"][0],
                                   [{"nprobes": DEFAULT_VECTOR_INDEX.nprobes,
                                     "ef": DEFAULT_VECTOR_INDEX.ef}])
    for kind, (policy, settings) in variants.items():
        index.vector_index = policy
        started = time.perf_counter()
        index.ensure_vector_index(rebuild=True)
        build_s = time.perf_counter() - started
        partitions = policy.index_config(n_rows, dim).num_partitions
        for setting in settings:
            index.vector_index = replace(policy, **{"refine_factor": None, "ef": None, **setting})
            label = f"{kind} p={partitions} " + " ".join(f"{k}={v}" for k, v in setting.items())
            for name in scopes:
                results.append({**common, "config": label, "filter": name, "build_s": build_s,
                                **run_queries(index, queries, scopes[name], truth[name])})
    return results


class DictEmbedder:
    """Precomputed vectors by text: real MiniLM vectors without re-running the model."""

    def __init__(self, vectors: dict[str, np.ndarray], model_id: str) -> None:
        self.vectors = vectors
        self.dim = len(next(iter(vectors.values())))
        self.model_id = model_id
        self.stats = EmbedStats()

    def embed_documents(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: bool = False) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def lancedb_hybrid(index: ChunkIndex, query: str, scope: AccessScope, k: int) -> list[str]:
    """LanceDB's own hybrid query with its RRFReranker, for comparison with ``search``."""
    from lancedb.rerankers import RRFReranker

    table = (index.table.search(query_type="hybrid", vector_column_name="vector")
             .vector(index.embedder.embed_query(query)).text(query).distance_type("cosine")
             .where(scope.to_filter(), prefilter=True).rerank(RRFReranker())
             .limit(k).to_arrow())
    return table.column("chunk_id").to_pylist()


def bench_hybrid(sentences: list[str], base: np.ndarray, work: Path, n_queries: int = 100,
                 ) -> list[dict]:
    """Known-item search on the real sentences: the query is 4 content words of one sentence
    (a keyword query, as users type). Which mode ranks that sentence first, and how fast?"""
    rng = random.Random(3)
    targets = rng.sample(range(len(sentences)), n_queries)
    queries = []
    for t in targets:
        words = [w.strip(".,:;()`'\"") for w in sentences[t].split()]
        content = [w for w in words if len(w) > 3] or words
        queries.append(" ".join(rng.sample(content, min(4, len(content)))))
    model = SentenceTransformerEmbedder()
    vectors = dict(zip(sentences, base, strict=True))
    vectors.update(zip(queries, model.embed_documents(queries), strict=True))
    index = ChunkIndex(work / "hybrid", embedder=DictEmbedder(vectors, model.model_id))
    index.sync([{"chunk_id": f"s{i:05d}", "document_id": f"s{i:05d}", "tenant": "t0",
                 "acl_groups": ["all"], "route": "volatile", "source_id": "stdlib",
                 "path": None, "section": None, "text": text}
                for i, text in enumerate(sentences)])
    scope = AccessScope(frozenset({"t0"}), frozenset({"all"}))
    runners = {
        "vector": lambda q: [h.chunk_id for h in search(index, q, scope, k=K, mode="vector")],
        "fts": lambda q: [h.chunk_id for h in search(index, q, scope, k=K, mode="fts")],
        "hybrid (ours: RRF, 20 per leg)":
            lambda q: [h.chunk_id for h in search(index, q, scope, k=K, mode="hybrid")],
        "hybrid (LanceDB RRFReranker)": lambda q: lancedb_hybrid(index, q, scope, K),
    }
    rows = []
    for name, run in runners.items():
        run(queries[0])
        latencies, ranks = [], []
        for query, target in zip(queries, targets, strict=True):
            started = time.perf_counter()
            ids = run(query)
            latencies.append(time.perf_counter() - started)
            want = f"s{target:05d}"
            ranks.append(ids.index(want) + 1 if want in ids else None)
        rows.append({"mode": name, "hit_at_1": sum(r == 1 for r in ranks) / n_queries,
                     "hit_at_10": sum(r is not None for r in ranks) / n_queries,
                     "mrr_at_10": sum(1 / r for r in ranks if r) / n_queries,
                     "p50_ms": median(latencies) * 1000,
                     "p95_ms": percentile(latencies, 0.95) * 1000})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k and 10k rows only")
    parser.add_argument("--sizes", type=int, nargs="*",
                        help="row counts (default 2k, 10k, 100k)")
    parser.add_argument("--all", action="store_true",
                        help="IVF_PQ at 100k too (its build alone takes ~3 min on 2 cores)")
    parser.add_argument("--bench", action="store_true",
                        help="`make bench`: the default policy against numpy at 10k and 100k")
    args = parser.parse_args()
    if args.bench:
        bench_rows(args.sizes or [10_000, 100_000])
        return
    sizes = args.sizes or ([2_000, 10_000] if args.quick else [2_000, 10_000, 100_000])

    started = time.perf_counter()
    sentences = real_sentences()
    base = real_embeddings(sentences)
    embed_s = time.perf_counter() - started
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="kc-bench-index-") as tmp:
        hybrid = bench_hybrid(sentences, base, Path(tmp))
        for n in sizes:
            rows += bench_size(n, base, Path(tmp), ivf_pq=args.all or n <= 20_000)
    path = write_results("index_search", rows, notes=(
        f"k={K}, {N_QUERIES} queries through retrieval.search with the access prefilter; "
        f"'tenant' reads 1 of {N_TENANTS} tenants. Synthetic vectors: real MiniLM embeddings "
        f"of {len(base)} stdlib sentences + {ALPHA} x N(0, fitted covariance), renormalised. "
        f"Base embedding took {embed_s:.1f} s (cached after the first run). build_s of the "
        "flat row is the whole ChunkIndex.sync (hashing, merge_insert, FTS index)."))
    write_results("index_search_hybrid", hybrid, notes=(
        "Known-item search over the 2,000 stdlib sentences with real MiniLM vectors: the query "
        "is 4 content words of one sentence; hit@k = that sentence in the top k."))
    print(markdown_table(rows, ["rows", "config", "filter", "recall_at_10", "p50_ms", "p95_ms",
                                "build_s", "queries"]))
    print(markdown_table(hybrid, ["mode", "hit_at_1", "hit_at_10", "mrr_at_10", "p50_ms",
                                  "p95_ms"]))
    print(f"nearest-neighbour cosine, median: real {rows[0]['nn_cosine_real']:.3f}, "
          + ", ".join(f"synthetic {r['rows']}: {r['nn_cosine_synthetic']:.3f}"
                      for r in rows if r["config"] == "numpy exact" and r["filter"] == "all"))
    print(choose_rule(rows))
    print(f"wrote {path}")


def bench_rows(sizes: list[int]) -> list[dict]:
    """The default policy (retrieval.search as shipped) against numpy exact search, per size
    and access scope: recall@10, p50 and p95, in the standard row format."""
    sentences = real_sentences()
    base = real_embeddings(sentences)
    measured: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="kc-bench-index-") as tmp:
        for n in sizes:
            measured += bench_size(n, base, Path(tmp), ivf_pq=False, policy_only=True)
    rows = []
    for n in sizes:
        for scope in ("all", "tenant"):
            at = [r for r in measured if r["rows"] == n and r["filter"] == scope]
            exact_row = next(r for r in at if r["config"] == "numpy exact")
            ours = next(r for r in at if r["config"] != "numpy exact")
            where = f"{n // 1000}k chunks, scope {scope}"
            detail = {"config": ours["config"], "index_build_s": round(ours["build_s"], 1),
                      "queries": ours["queries"]}
            rows.append(result_row(f"retrieval recall@10, {where}", "numpy exact search",
                                   ours["recall_at_10"], 1.0, "recall", ours["recall_at_10"],
                                   ">= 0.95", ours["recall_at_10"] >= 0.95, **detail))
            for stat in ("p50", "p95"):
                ratio = ours[f"{stat}_ms"] / exact_row[f"{stat}_ms"]
                rows.append(result_row(f"retrieval {stat} latency, {where}",
                                       "numpy exact search (in memory)", ours[f"{stat}_ms"],
                                       exact_row[f"{stat}_ms"], "ms", ratio, "<= 1",
                                       ratio <= 1.0, **detail))
    path = write_results("index_search", rows, notes=(
        f"retrieval.search (access prefilter on, k={K}, {N_QUERIES} queries) with the default "
        "vector index policy against numpy exact search over the same vectors; 'tenant' reads "
        f"1 of {N_TENANTS} tenants. Vectors: real MiniLM embeddings of {len(base)} stdlib "
        f"sentences + {ALPHA} x N(0, fitted covariance), renormalised (see the module "
        "docstring). The goal p <= numpy is the index policy's own rule: an ANN index should "
        "answer no slower than exact search in memory."))
    print(markdown_table(rows, list(COLUMNS)))
    print(f"wrote {path}")
    return rows


def choose_rule(rows: list[dict]) -> str:
    """The selection rule, applied to this run: per size, the fastest ANN config whose
    recall@10 is at least 0.95 under both filters, against flat and numpy."""
    lines = []
    for n in sorted({r["rows"] for r in rows}):
        at = [r for r in rows if r["rows"] == n]
        by_config: dict[str, dict[str, dict]] = {}
        for r in at:
            by_config.setdefault(r["config"], {})[r["filter"]] = r
        ann = {c: f for c, f in by_config.items() if c not in ("numpy exact", "lancedb flat")}
        good = {c: f for c, f in ann.items()
                if min(x["recall_at_10"] for x in f.values()) >= 0.95}
        flat = by_config["lancedb flat"]["all"]["p50_ms"]
        numpy_ms = by_config["numpy exact"]["all"]["p50_ms"]
        if not good:
            lines.append(f"{n} rows: no ANN config reached recall 0.95; flat p50 {flat:.1f} ms")
            continue
        best = min(good, key=lambda c: good[c]["all"]["p50_ms"])
        p50 = good[best]["all"]["p50_ms"]
        lines.append(f"{n} rows: best ANN {best!r} p50 {p50:.1f} ms (recall "
                     f"{min(x['recall_at_10'] for x in good[best].values()):.3f}); flat "
                     f"{flat:.1f} ms; numpy exact {numpy_ms:.2f} ms -> "
                     f"{'meets' if p50 <= numpy_ms else 'misses'} p50 <= numpy")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
