"""Batched greedy answering: left padding must not change an answer."""

from __future__ import annotations

from tests.training.test_base_support import (  # noqa: F401
    QA_PAIRS,
    one_cpu_thread,
    tiny_base,
)
from training.base_model import load_causal_lm
from training.generate import answer, evaluate, evaluate_closed_book, left_pad, position_ids_for


def test_model_left_pad_and_positions() -> None:
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert position_ids_for(mask).tolist() == [[0, 1, 2], [0, 0, 0]]


def test_model_batched_answers_equal_single_answers() -> None:
    model, tok = load_causal_lm(tiny_base())
    questions = [q for q, _ in QA_PAIRS]
    contexts = [None, ["The Orvik Relay listens on port 8443."], None, None, None, None]
    batched = answer(model, tok, questions, contexts, max_new_tokens=6)
    single = [answer(model, tok, [q], [c], max_new_tokens=6)[0]
              for q, c in zip(questions, contexts, strict=True)]
    assert batched == single
    assert evaluate_closed_book(model, tok, list(zip(questions[::2], batched[::2],
                                                     strict=True)), max_new_tokens=6) == 1.0
    score, got = evaluate(model, tok, [(questions[0], batched[0] + " x")], max_new_tokens=6)
    assert score == 0.0 and got == batched[:1]
