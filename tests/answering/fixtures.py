"""Fixtures for the answering tests, shared with the evaluation and serving tests (registered
for the whole suite by `pytest_plugins` in tests/conftest.py): a tiny random causal LM (+ a LoRA
adapter) and a hashing index over two tenants' chunks. Heavy imports stay inside the fixtures,
so collecting an unrelated test does not load torch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from answering import AnsweringModel
    from retrieval import ChunkIndex
    from retrieval.access import Principal

WINDOW = 128


def chunk(chunk_id: str, text: str, *, tenant: str = "acme", route: str = "static",
          path: str | None = None) -> dict[str, Any]:
    """One row shaped like `marts.chunks_for_index`."""
    return {"chunk_id": chunk_id, "document_id": f"doc-{chunk_id}", "tenant": tenant,
            "acl_groups": [tenant], "route": route, "source_id": f"src-{tenant}",
            "path": path or f"{chunk_id}.md", "section": "Intro", "text": text}


CHUNKS = [
    chunk("c1", "Zarnik Pay is owned by Lena Brook.", route="static"),
    chunk("c2", "The Orvik Relay listens on port 8443.", route="volatile"),
    chunk("c3", "Error KX-19 means disk quota exceeded.", route="overflow"),
    chunk("c4", "The cafeteria opens at 08:00 on weekdays.", route="volatile"),
    chunk("f1", "The travel budget is $1,800 per year.", tenant="other", route="volatile"),
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with SmolLM2's tokenizer and a 128-position window."""
    from tests.training.test_base_support import tiny_llama_dir

    return tiny_llama_dir(tmp_path_factory.mktemp("tiny-lm"), window=WINDOW)


@pytest.fixture(scope="session")
def base_bundle(tiny_model_dir: Path) -> AnsweringModel:
    from answering import AnsweringModel

    return AnsweringModel.load(tiny_model_dir, name="tiny-base")


@pytest.fixture(scope="session")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny model (random B, so it changes the outputs)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from training.base_model import load_causal_lm

    model, _ = load_causal_lm(tiny_model_dir)
    torch.manual_seed(1)
    peft = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                            task_type="CAUSAL_LM", init_lora_weights=False))
    out = tmp_path_factory.mktemp("run") / "adapter"
    peft.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def compiled_bundle(tiny_model_dir: Path, adapter_dir: Path) -> AnsweringModel:
    from answering import AnsweringModel

    return AnsweringModel.load(tiny_model_dir, adapter_dir, name="tiny-compiled")


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> ChunkIndex:
    from retrieval import ChunkIndex, HashingEmbedder

    idx = ChunkIndex(tmp_path_factory.mktemp("lancedb"), embedder=HashingEmbedder(dim=64))
    idx.sync(CHUNKS)
    return idx


@pytest.fixture(scope="session")
def acme() -> Principal:
    from retrieval.access import Principal

    return Principal(user="alice", groups=frozenset({"acme"}), tenants=frozenset({"acme"}))


def principal_for(tenant: str) -> Principal:
    from retrieval.access import Principal

    return Principal(user="eval", groups=frozenset({tenant}), tenants=frozenset({tenant}))
