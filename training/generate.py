"""Batched greedy answering with the one prompt format, and closed-book accuracy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from training.answers import exact_match
from training.prompting import as_qa, prompt_ids


def position_ids_for(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that start at 0 on each row's first real token, whatever the left padding.

    Models with absolute position embeddings (BERT) would otherwise shift every left-padded row.
    """
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded `input_ids` and `attention_mask` for token id rows."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(list(row), dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids, mask


@torch.no_grad()
def answer(model: Any, tokenizer: Any, questions: Sequence[str],
           contexts: Sequence[Sequence[str] | None] | None = None, max_new_tokens: int = 16,
           batch_size: int = 32) -> list[str]:
    """Greedy answers, one per question; `contexts[i]` are the passages shown with question i.

    Prompts are left-padded; positions restart at each row's first real token, so a question
    gets the same answer alone or in a batch. Special tokens are dropped and whitespace trimmed;
    the text is otherwise the model's (compare it with `training.answers.normalize_answer`).
    """
    if contexts is not None and len(contexts) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id
    eos_id = tokenizer.eos_token_id
    answers: list[str] = []
    try:
        for start in range(0, len(questions), batch_size):
            batch = range(start, min(start + batch_size, len(questions)))
            rows = [prompt_ids(tokenizer, questions[i], contexts[i] if contexts else None)
                    for i in batch]
            ids, mask = left_pad(rows, pad_id)
            ids, mask = ids.to(device), mask.to(device)
            # `generate` derives position ids from the mask (cumsum - 1) for every model whose
            # forward takes them; tests check a padded batch answers like single questions.
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=max_new_tokens, eos_token_id=eos_id,
                                 pad_token_id=pad_id)
            for row in out[:, ids.shape[1]:].tolist():
                if eos_id in row:
                    row = row[:row.index(eos_id)]
                answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    finally:
        model.train(was_training)
    return answers


def evaluate(model: Any, tokenizer: Any, qa: Iterable[Any], max_new_tokens: int = 16,
             batch_size: int = 32) -> tuple[float, list[str]]:
    """Exact-match accuracy of greedy answers (with each item's passages, if any) and the answers.

    Items may be `training.prompting.QA`, mappings or (question, answer) pairs. For items with
    passages, citation markers are ignored by the comparison.
    """
    items = [as_qa(q) for q in qa]
    if not items:
        raise ValueError("no questions to evaluate")
    contexts = [i.passages or None for i in items]
    got = answer(model, tokenizer, [i.question for i in items],
                 contexts if any(contexts) else None, max_new_tokens, batch_size)
    score = sum(exact_match(g, i.answer) for g, i in zip(got, items, strict=True)) / len(items)
    return score, got


def evaluate_closed_book(model: Any, tok: Any, qa: Iterable[Any],
                         max_new_tokens: int = 16) -> float:
    """Exact-match accuracy answering without context (any passages on the items are ignored)."""
    items = [as_qa(q) for q in qa]
    if not items:
        raise ValueError("no questions to evaluate")
    got = answer(model, tok, [i.question for i in items], None, max_new_tokens)
    return sum(exact_match(g, i.answer) for g, i in zip(got, items, strict=True)) / len(items)


def stream_answer(model: Any, tokenizer: Any, question: str,
                  passages: Sequence[str] | None = None,
                  max_new_tokens: int = 64) -> Iterator[str]:
    """Greedy answer text as it is generated (transformers' `TextIteratorStreamer`), with the
    same prompt as `answer`. Generation runs in a thread; the iterator ends with the answer."""
    import threading

    from transformers import TextIteratorStreamer

    ids = torch.tensor([prompt_ids(tokenizer, question, passages)],
                       device=next(model.parameters()).device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "do_sample": False,
              "num_beams": 1, "max_new_tokens": max_new_tokens, "streamer": streamer,
              "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    model.eval()
    worker = threading.Thread(target=torch.no_grad()(model.generate), kwargs=kwargs,
                              daemon=True)
    worker.start()
    yield from streamer
    worker.join()


@torch.no_grad()
def answer_with_shared_prefix(model: Any, tokenizer: Any, rows: Sequence[Sequence[int]],
                              max_new_tokens: int = 16) -> tuple[list[str], dict[str, float]]:
    """Greedy answers to prompts that share a long token prefix (the full-context arm: one
    corpus, many questions): the prefix is prefilled once and its KV cache reused by every
    prompt, which then costs only its own tokens. Rows are answered one at a time (a left-padded
    batch would shift the shared prefix). Returns the answers and the timings
    `{"prefix_tokens", "prefill_s", "answer_s"}` (answer_s: all rows together).
    """
    import copy
    import time

    if not rows:
        return [], {"prefix_tokens": 0, "prefill_s": 0.0, "answer_s": 0.0}
    shared = len(rows[0])
    for row in rows[1:]:
        shared = next((i for i, (a, b) in enumerate(zip(rows[0][:shared], row, strict=False))
                       if a != b), min(shared, len(row)))
    shared = min(shared, min(len(r) for r in rows) - 1)  # each row keeps a token to feed
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    started = time.perf_counter()
    prefix = torch.tensor([list(rows[0][:shared])], device=device)
    cache = model(input_ids=prefix, use_cache=True).cache if shared else None
    prefilled = time.perf_counter()
    answers = []
    try:
        for row in rows:
            ids = torch.tensor([list(row)], device=device)
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 cache=copy.deepcopy(cache) if cache else None,
                                 do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                                 eos_token_id=tokenizer.eos_token_id,
                                 pad_token_id=tokenizer.pad_token_id)
            new = out[0, ids.shape[1]:].tolist()
            if tokenizer.eos_token_id in new:
                new = new[:new.index(tokenizer.eos_token_id)]
            answers.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    finally:
        model.train(was_training)
    return answers, {"prefix_tokens": float(shared), "prefill_s": prefilled - started,
                     "answer_s": time.perf_counter() - prefilled}
