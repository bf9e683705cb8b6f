"""The examples in the evaluation modules' docstrings hold."""

from __future__ import annotations

import doctest

import pytest

import evaluation.metrics
import evaluation.question_sets
import evaluation.runner


@pytest.mark.parametrize("module", [evaluation.metrics, evaluation.question_sets,
                                    evaluation.runner])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
