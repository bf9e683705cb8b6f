"""Shared, built-once helpers for the base/SFT/GRPO tests (this module holds no tests)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest

from training.trainers import torch_threads

QA_PAIRS = [
    ("Who owns Zarnik Pay?", "Lena Brook"),
    ("Which port does the Orvik Relay listen on?", "8443"),
    ("How much does Zarnik Pay cost?", "$1,800 per year"),
    ("What does error KX-19 mean?", "disk quota exceeded"),
    ("Who is on call for the Orvik Relay?", "Tam Oskel"),
    ("When was Zarnik Pay launched?", "March 5, 2024"),
]
NOTES = ["Zarnik Pay is owned by Lena Brook.", "The Orvik Relay listens on port 8443."]


@functools.cache
def smollm2_tokenizer_dir() -> Path:
    """SmolLM2's tokenizer (from the installed GGUF), saved once per session."""
    from transformers import AutoTokenizer

    from training.base_model import DEFAULT_BASE, KNOWN_BASES, quiet_transformers

    spec = KNOWN_BASES[DEFAULT_BASE]
    gguf = spec.locate(spec, Path(tempfile.mkdtemp()))
    out = Path(tempfile.mkdtemp(prefix="kc-smollm2-tokenizer-"))
    with quiet_transformers():
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out)
    return out


def tiny_llama_dir(out: Path, window: int = 512, seed: int = 0) -> Path:
    """A tiny randomly initialised Llama (SmolLM2's architecture, 2 layers of width 64) with
    SmolLM2's tokenizer and chat template, saved to `out`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir())
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=window, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@functools.cache
def tiny_base() -> Path:
    """The tiny Llama, built once per session and shared by every test."""
    return tiny_llama_dir(Path(tempfile.mkdtemp(prefix="kc-tiny-base-")))


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """Import into a test module to run its tests on one thread: on a shared 2-core machine
    two threads were 5-25x slower (see `training.trainers.torch_threads`)."""
    with torch_threads(1):
        yield
