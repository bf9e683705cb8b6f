"""Fixtures for the evaluation tests: a tiny random causal LM (+ a LoRA adapter), a hashing
index over two tenants' chunks, and a fixture warehouse with qa.* and marts.document_routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import torch

from answering import AnsweringModel
from retrieval import ChunkIndex, HashingEmbedder
from retrieval.access import Principal
from training.synthesis.store import SCHEMA

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
    return AnsweringModel.load(tiny_model_dir, name="tiny-base")


@pytest.fixture(scope="session")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny model (random B, so it changes the outputs)."""
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
    return AnsweringModel.load(tiny_model_dir, adapter_dir, name="tiny-compiled")


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> ChunkIndex:
    idx = ChunkIndex(tmp_path_factory.mktemp("lancedb"), embedder=HashingEmbedder(dim=64))
    idx.sync(CHUNKS)
    return idx


@pytest.fixture(scope="session")
def acme() -> Principal:
    return Principal(user="alice", groups=frozenset({"acme"}), tenants=frozenset({"acme"}))


def principal_for(tenant: str) -> Principal:
    return Principal(user="eval", groups=frozenset({tenant}), tenants=frozenset({tenant}))


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """qa.pairs / qa.stale_facts (the synthesis schema) and a small marts.document_routes."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(SCHEMA)
    pairs = [
        # pair_id, tenant, fact_id, split, question, answer, superseded, superseded_by_answer
        ("p1", "acme", "f1", "eval", "Who owns Zarnik Pay?", "Lena Brook", False, None),
        ("p2", "acme", "f2", "eval", "Which port does Orvik use?", "8443", False, None),
        ("p3", "acme", "f3", "train", "Who owns Zarnik Pay, training?", "Lena Brook", False,
         None),
        ("p4", "acme", "f4", "volatile_eval", "When does the cafeteria open?", "08:00", False,
         None),
        ("p5", "other", "f5", "eval", "What is the travel budget?", "$1,800", False, None),
        ("p6", "acme", "f6", "train", "What does KX-19 mean?", "disk full", True,
         "disk quota exceeded"),
        ("p7", "acme", "f6", "eval", "What does KX-19 mean?", "disk full", True,
         "disk quota exceeded"),
        ("p8", "acme", "f7", "eval", "Who runs the relay?", "Tam Oskel", True, None),
        ("p9", "acme", "f8", "eval", "Old question, no new answer?", "x", True, None),
        ("p0", "acme", "f9", "eval", "An old eval question?", "gone", True, "new"),
    ]
    con.executemany(
        "insert into qa.pairs (pair_id, tenant, fact_id, chunk_id, document_id, split, question,"
        " answer, superseded, superseded_by_answer) values (?, ?, ?, 'c', 'd', ?, ?, ?, ?, ?)",
        pairs)
    con.execute("insert into qa.stale_facts (stale_id, tenant, document_id, old_fact_id, "
                "old_answer, new_answer) values ('s1', 'acme', 'd', 'f7', 'Tam Oskel', "
                "'Ada Vance')")
    con.execute("create schema marts")
    con.execute("create table marts.document_routes (document_id varchar, source_id varchar, "
                "tenant varchar, path varchar, route varchar, reason varchar)")
    con.executemany("insert into marts.document_routes values (?, ?, ?, ?, ?, 'r')", [
        ("d-hb", "eng-docs", "acme", "handbook/handbook.docx", "static"),
        ("d-st", "eng-docs", "acme", "status.md", "volatile"),
        ("d-api", "platform-api", "acme", "src/app.py", "overflow"),
    ])
    return con


QUESTIONS_YAML = """
- id: q1
  question: "Who keeps the handbook?"
  answer: "Rebecca Osei"
  source: documents/engineering/handbook/handbook.docx
  tenant: acme
  stability: static
- id: q2
  question: "What is the status?"
  answer: "green"
  aliases: ["all green"]
  source: documents/engineering/status.md
  tenant: acme
  stability: static
- id: q3
  question: "Which framework does the API use?"
  answer: "FastAPI"
  source: repos/platform-api/src/app.py
  tenant: acme
  stability: static
- id: q4
  question: "Not ingested?"
  answer: "nothing"
  source: documents/engineering/missing.md
  tenant: acme
  stability: volatile
- id: q5
  question: "Another tenant?"
  answer: "x"
  source: documents/finance/a.md
  tenant: other
  stability: static
"""
SOURCE_ROOTS = {"eng-docs": "documents/engineering", "platform-api": "repos/platform-api",
                "fin-docs": "documents/finance"}


@pytest.fixture
def questions_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(QUESTIONS_YAML)
    return path
