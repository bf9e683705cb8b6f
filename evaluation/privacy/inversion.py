"""Embedding inversion by dictionary: which names and identifiers can be read off stored vectors?

The attacker holds the index's vectors (a copied ``lancedb/`` folder, or a vector-only API), the
public embedding model, and a dictionary of candidate strings: the organisation's people,
services and code identifiers (a staff list, a service catalogue) mixed with as many
distractors. For each stored vector it embeds every candidate with the same model and takes
the nearest ones. A chunk's secret is *recovered* when its nearest candidate (top-1) is a
string that chunk really contains. The figure is compared with the chance rate (picking a
candidate at random), so "vectors leak" is a measured statement, not an assumption.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retrieval.embedder import Embedder

_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,}){1,2}\b")
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]+(?:[_-][a-z0-9]+){1,4}\b")
_FIRST = ("Noor", "Tobias", "Ingrid", "Rafael", "Keiko", "Oluwaseun", "Marta", "Dmitri", "Leila",
          "Henrik", "Ana", "Sunil", "Greta", "Kwame", "Elif", "Bruno", "Signe", "Arjun")
_LAST = ("Halvorsen", "Mbeki", "Castellano", "Nakamura", "Petrov", "Adeyemi", "Lindgren",
         "Moreau", "Kowalczyk", "Haddad", "Fischer", "Oyelaran", "Varga", "Quispe")
_PARTS = ("ledger", "relay", "gateway", "sync", "audit", "vault", "queue", "broker", "shard",
          "orbit", "falcon", "cobalt", "harbor", "pixel", "quartz", "ember", "delta", "nimbus")


@dataclass
class InversionReport:
    """Recovery of dictionary strings from stored vectors."""

    vectors_attacked: int  # stored vectors containing at least one dictionary string
    candidates: int  # dictionary size (true strings + distractors)
    recovered_top1: int
    recovered_top5: int
    recovery_rate: float  # top-1
    top5_rate: float
    chance_rate: float  # expected top-1 rate of a random guess
    examples: list[dict[str, str]]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def corpus_candidates(texts: Sequence[str], limit: int = 200) -> list[str]:
    """Names and identifiers that occur in the texts, most frequent first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(_NAME.findall(text)) | set(_IDENTIFIER.findall(text)))
    return [s for s, _ in counts.most_common(limit)]


def distractors(n: int, exclude: set[str], seed: int = 0) -> list[str]:
    """``n`` plausible names and identifiers that are not in ``exclude``."""
    rng = random.Random(f"kc-inversion:{seed}")
    out: list[str] = []
    seen = set(exclude)
    while len(out) < n:
        value = (f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" if len(out) % 2 else
                 f"{rng.choice(_PARTS)}_{rng.choice(_PARTS)}{rng.choice(('', '_v2', '-svc'))}")
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


def dictionary_attack(vectors: np.ndarray, texts: Sequence[str], candidates: Sequence[str],
                      embedder: Embedder) -> InversionReport:
    """Nearest candidates for each vector; ``texts`` is only used to score the guesses."""
    if len(vectors) != len(texts):
        raise ValueError(f"{len(vectors)} vectors but {len(texts)} texts")
    if not candidates:
        raise ValueError("the dictionary is empty")
    cand = embedder.embed_documents(list(candidates))
    present = [[c in text for c in candidates] for text in texts]
    rows = [i for i, p in enumerate(present) if any(p)]
    if not rows:
        return InversionReport(0, len(candidates), 0, 0, 0.0, 0.0, 0.0, [])
    sims = np.asarray(vectors, dtype=np.float32)[rows] @ cand.T
    top = np.argsort(-sims, axis=1)[:, :5]
    top1 = top5 = 0
    chance = 0.0
    examples = []
    for row, best in zip(rows, top, strict=True):
        hit = present[row][best[0]]
        top1 += hit
        top5 += any(present[row][j] for j in best)
        chance += sum(present[row]) / len(candidates)
        if hit and len(examples) < 5:
            examples.append({"recovered": candidates[best[0]], "chunk": texts[row][:120]})
    n = len(rows)
    return InversionReport(n, len(candidates), top1, top5, round(top1 / n, 4),
                           round(top5 / n, 4), round(chance / n, 4), examples)


def attack_index(index_path: Path, embedder: Embedder, *, table: str = "chunks",
                 limit: int = 200, max_vectors: int = 2000) -> InversionReport:
    """Run the attack on a LanceDB chunk table, with a dictionary built from its own text
    (the names and identifiers an insider would list) plus as many distractors."""
    import lancedb

    data = (lancedb.connect(str(index_path)).open_table(table).search()
            .select(["text", "vector"]).limit(max_vectors).to_arrow())
    texts = data.column("text").to_pylist()
    vectors = np.asarray(data.column("vector").to_pylist(), dtype=np.float32)
    true = corpus_candidates(texts, limit=limit)
    candidates = true + distractors(len(true), set(true))
    return dictionary_attack(vectors, texts, candidates, embedder)
