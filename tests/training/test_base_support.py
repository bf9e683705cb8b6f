"""Shared, built-once helpers for the base/SFT/GRPO tests (this module holds no tests)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest

from training.base_model import BaseModelConfig, build_base_model
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
def tiny_base() -> Path:
    """A tiny kc-base build (seconds), shared by every test in the session."""
    out = Path(tempfile.mkdtemp(prefix="kc-tiny-base-"))
    return build_base_model(BaseModelConfig.tiny(), out).path


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """Import into a test module to run its tests on one thread: on a shared 2-core machine
    two threads were 5-25x slower (see `training.trainers.torch_threads`)."""
    with torch_threads(1):
        yield
