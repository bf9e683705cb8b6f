"""Embedding inversion: names and identifiers can be read back from stored vectors."""

import random

import numpy as np
import pytest

from evaluation.privacy.inversion import attack_index, corpus_candidates, dictionary_attack
from retrieval import ChunkIndex

PEOPLE = ["Amara Okafor", "Jonas Lindqvist", "Priya Raman", "Mateo Alvarez", "Yuki Tanaka",
          "Fatima Zahra", "Chen Wei", "Ingrid Solberg", "Kwame Mensah", "Lucia Romero"]
SERVICES = ["ledger_sync", "invoice_relay", "payout_scheduler", "fraud_scorer", "tax_engine",
            "refund_gateway", "parcel_router", "depot_planner", "quota_guard", "audit_trail"]
TEMPLATES = [
    "Incident review: {p} restarted {s} after the outage on Tuesday night.",
    "{p} owns {s}; page them before changing its configuration.",
    "Runbook: when {s} stalls, {p} drains the queue and redeploys it.",
    "Quarterly goals for {s} were agreed with {p} in the planning meeting.",
]


def _rows():
    rng = random.Random(7)
    rows = []
    for i in range(40):
        text = rng.choice(TEMPLATES).format(p=PEOPLE[i % 10], s=SERVICES[(i * 3) % 10])
        rows.append({"chunk_id": f"c{i:02d}", "document_id": f"d{i}", "tenant": "acme",
                     "acl_groups": ["eng"], "route": "volatile", "source_id": "docs",
                     "path": f"notes/{i}.md", "section": "Notes", "text": text})
    return rows


@pytest.fixture(scope="module")
def minilm():
    import torch

    from retrieval.embedder import SentenceTransformerEmbedder

    torch.set_num_threads(1)
    return SentenceTransformerEmbedder(threads=1)


def test_dictionary_attack_recovers_names_from_stored_vectors(tmp_path, minilm):
    ChunkIndex(tmp_path / "lancedb", minilm).sync(_rows())
    report = attack_index(tmp_path / "lancedb", minilm)
    assert report.vectors_attacked == 40
    assert report.candidates == 2 * len(corpus_candidates([r["text"] for r in _rows()]))
    assert report.recovery_rate >= 0.9, report
    assert report.recovery_rate > 5 * report.chance_rate, report


def test_the_attack_is_no_better_than_chance_on_unrelated_vectors(minilm):
    rows = _rows()
    texts = [r["text"] for r in rows]
    candidates = PEOPLE + SERVICES
    vectors = minilm.embed_documents(texts)
    order = np.random.default_rng(0).permutation(len(texts))
    # Vectors paired with other chunks' texts: any recovery beyond chance would be an artefact.
    shuffled = dictionary_attack(vectors[order], texts, candidates, minilm)
    honest = dictionary_attack(vectors, texts, candidates, minilm)
    assert honest.recovery_rate >= 0.5
    assert shuffled.recovery_rate <= 0.3
