"""Tenant isolation, end to end: three tenants holding identical and near-identical text, each
user querying through the paths ``kc search`` and ``kc ask`` use; plus the adapters' lineage.

A leak is any hit, citation or full-context passage whose tenant is not one the asking user may
read. Queries are drawn from all three tenants' text, so most of them are *aimed* at another
tenant's copy of a passage the user also has (or nearly has).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

TENANTS = ("acme", "globex", "initech")
_TOPICS = ("invoice approval", "on-call rotation", "parcel routing", "refund limits",
           "warehouse audit", "release freeze", "vendor onboarding", "quota alerts",
           "database failover", "expense policy", "incident review", "capacity planning")
_VERBS = ("requires", "is owned by", "escalates to", "is reviewed by", "is paused for",
          "is documented by", "depends on")
_OWNERS = ("the platform team", "finance operations", "the duty manager", "the SRE rota",
           "the billing guild", "regional leads", "the security office")


@dataclass
class IsolationReport:
    users: int
    queries_per_user: int
    searches: int  # kc search calls
    ask_retrievals: int  # kc ask retrievals (rag + hybrid arms) and full-context corpora
    hits_checked: int
    leaks: int
    leak_examples: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _passage(rng: random.Random, topic: str, n: int) -> str:
    return (f"{topic.capitalize()} {rng.choice(_VERBS)} {rng.choice(_OWNERS)}. The threshold is "
            f"{n} items per day and the review happens every {rng.randrange(2, 9)} weeks. "
            f"Exceptions for {topic} go through the change board with a written reason.")


def write_tenant_corpora(root: Path, per_kind: int = 12) -> dict[str, Path]:
    """One documents folder per tenant: ``per_kind`` identical, near-identical (one number or
    owner differs) and unique passages each."""
    rng = random.Random("kc-isolation")
    shared = [_passage(rng, _TOPICS[i % len(_TOPICS)], 100 + i) for i in range(per_kind)]
    near = [(_TOPICS[i % len(_TOPICS)], 500 + 7 * i) for i in range(per_kind)]
    folders = {}
    for t_index, tenant in enumerate(TENANTS):
        folder = root / tenant
        folder.mkdir(parents=True)
        for i, text in enumerate(shared):
            (folder / f"shared-{i:02d}.md").write_text(f"# Policy {i}\n\n{text}\n")
        for i, (topic, n) in enumerate(near):
            text = _passage(random.Random(f"near:{i}"), topic, n + t_index)
            (folder / f"near-{i:02d}.md").write_text(f"# Procedure {i}\n\n{text}\n")
        for i in range(per_kind):
            text = (f"Only {tenant} knows this: project {tenant}-{i} ships in week "
                    f"{rng.randrange(1, 52)} with codename {rng.choice(_TOPICS)} {i}.")
            (folder / f"unique-{i:02d}.md").write_text(f"# {tenant} note {i}\n\n{text}\n")
        folders[tenant] = folder
    return folders


def _queries(root: Path, n: int, seed: int) -> list[str]:
    rng = random.Random(f"kc-isolation-queries:{seed}")
    sentences = sorted({s.strip() + "." for p in sorted(root.rglob("*.md"))
                        for s in p.read_text().split(".") if len(s.split()) >= 4})
    out = []
    for _ in range(n):
        words = rng.choice(sentences).replace("#", "").split()
        start = rng.randrange(0, max(1, len(words) - 4))
        out.append(" ".join(words[start:start + rng.randrange(4, 10)]))
    return out


def run_isolation_check(workdir: Path, queries_per_user: int = 1000, k: int = 5) -> IsolationReport:
    """Ingest three tenants, index them, and query as each tenant's user."""
    from answering import ArmSettings, hybrid_retrieve, retrieve, tenant_corpus
    from evaluation.privacy.secrets_audit import index_raw_chunks
    from ingestion.config import IngestionConfig, SourceSpec
    from ingestion.runner import ingest_all
    from retrieval.access import Principal
    from retrieval.embedder import HashingEmbedder
    from retrieval.index import ChunkIndex
    from retrieval.search import search

    started = time.perf_counter()
    workdir = Path(workdir)
    folders = write_tenant_corpora(workdir / "corpus")
    specs = [SourceSpec(name=f"{t}-docs", type="documents", tenant=t, acl_groups=(t,), path=p)
             for t, p in folders.items()]
    warehouse = workdir / "home" / "warehouse.duckdb"
    ingest_all(warehouse, specs, IngestionConfig(), home=workdir / "home")
    index_raw_chunks(warehouse, workdir / "home" / "lancedb")
    index = ChunkIndex(workdir / "home" / "lancedb", HashingEmbedder(dim=64))
    arm = ArmSettings(k=3)
    report = IsolationReport(len(TENANTS), queries_per_user, 0, 0, 0, 0)
    for u, tenant in enumerate(TENANTS):
        # As cmd_search and cmd_ask build it from kc.yaml: one group, the tenant's own.
        principal = Principal(user=f"user-{tenant}", groups=frozenset({tenant}),
                              tenants=frozenset({tenant}))
        allowed = {tenant}
        corpus = tenant_corpus(index, principal)  # the full-context arm's passages
        report.ask_retrievals += 1
        _check(corpus, allowed, principal.user, "full_context", report)
        for query in _queries(workdir / "corpus", queries_per_user, u):
            hits = search(index, query, principal, k=k, mode="hybrid")
            report.searches += 1
            _check(hits, allowed, principal.user, query, report)
            rag = retrieve(index, query, principal, arm)
            hybrid, _ = hybrid_retrieve(index, query, principal, arm)
            report.ask_retrievals += 2
            _check([*rag, *hybrid], allowed, principal.user, query, report)
    report.seconds = round(time.perf_counter() - started, 1)
    return report


def _check(hits: Iterable, allowed: set[str], user: str, query: str,
           report: IsolationReport) -> None:
    for hit in hits:
        report.hits_checked += 1
        if hit.tenant not in allowed:
            report.leaks += 1
            if len(report.leak_examples) < 10:
                report.leak_examples.append({"user": user, "query": query,
                                             "tenant": hit.tenant, "path": hit.path or ""})


def adapter_lineage_leaks(warehouse: Path,
                          lineage: dict[str, tuple[str, list[str]]]) -> dict[str, list[str]]:
    """For each model version (key -> (its tenant, the document ids it was trained on)), the
    ids that belong to another tenant or to no known document."""
    from ingestion.warehouse import connect

    with connect(warehouse, read_only=True) as con:
        owner = dict(con.execute("select d.document_id, s.tenant from raw.documents d "
                                 "join raw.sources s using (source_id)").fetchall())
    return {key: sorted(d for d in ids if owner.get(d) != tenant)
            for key, (tenant, ids) in lineage.items()}


def registered_lineage(tenants: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
    """``name/version`` -> (tenant, document ids in its lineage) for every registered version
    of each tenant's model, from the active MLflow tracking store."""
    from mlflow import MlflowClient

    from training import registry

    client = MlflowClient()
    out = {}
    for tenant in tenants:
        name = registry.registered_name(tenant)
        for version in client.search_model_versions(f"name = '{name}'"):
            out[f"{name}/{version.version}"] = (tenant, registry.lineage_document_ids(
                name, str(version.version)))
    return out
