"""The embedder behind the index: the offline MiniLM by default, any sentence-transformers
model folder from kc.yaml, or the small hashing embedder for tests."""

from functools import cache

import dagster as dg

from dagster_project.resources import KCSettings
from retrieval.embedder import Embedder, HashingEmbedder, SentenceTransformerEmbedder


@cache
def _sentence_transformer(path: str | None, threads: int | None,
                          batch_size: int) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model_path=path, threads=threads, batch_size=batch_size)


class EmbedderResource(dg.ConfigurableResource):
    """``kind``: `sentence-transformers` (real; model and threads from kc.yaml's `retrieval`)
    or `hashing` (deterministic and instant, for tests)."""

    kc_settings: KCSettings
    kind: str = "sentence-transformers"

    def get(self) -> Embedder:
        if self.kind == "hashing":
            return HashingEmbedder(dim=64)
        if self.kind != "sentence-transformers":
            raise ValueError(f"embedder kind {self.kind!r}: expected sentence-transformers "
                             "or hashing")
        settings = self.kc_settings.load()
        path = settings.embedder_path()
        return _sentence_transformer(str(path) if path else None,
                                     settings.retrieval.embed_threads,
                                     settings.retrieval.batch_size)
