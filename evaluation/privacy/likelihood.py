"""Per-row log-likelihood of a completion under a model, in the exact format it was trained on.

Rows are trl prompt-completion rows (`training.prompting.sft_example` / `note_example`): the
same chat template renders them here as in training, so a score is minus the training loss of
that row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from training.generate import left_pad, position_ids_for


def token_log_probs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    n_last: int) -> torch.Tensor:
    """Log-probability of each of the last `n_last` tokens (zero where the mask is 0), with
    positions that restart on each row's first real token, so a left-padded row scores like
    the same row alone; logits only at the scored positions (the LM head dominates the cost)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   position_ids=position_ids_for(attention_mask), use_cache=False,
                   logits_to_keep=n_last + 1).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), dim=-1)
    targets = input_ids[:, -n_last:]
    valid = attention_mask[:, -n_last:].bool()
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).masked_fill(~valid, 0.0)


def _ids(tok: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True,
                                  add_generation_prompt=generation_prompt)
    return list(out["input_ids"])


def tokenize_row(tok: Any, row: dict[str, Any]) -> tuple[list[int], int]:
    """(token ids of prompt + completion, number of completion tokens)."""
    prompt = _ids(tok, row["prompt"], generation_prompt=True)
    full = _ids(tok, row["prompt"] + row["completion"], generation_prompt=False)
    if full[:len(prompt)] != prompt:
        raise ValueError("the chat template does not render the prompt as a prefix of "
                         "prompt + completion; completion scores would be misaligned")
    return full, len(full) - len(prompt)


@torch.no_grad()
def last_tokens_log_probs(model: Any, tok: Any, rows: Sequence[Sequence[int]],
                          counts: Sequence[int], batch_size: int = 64) -> list[float]:
    """Sum of the log-probabilities of the last `counts[i]` tokens of each token-id row."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[float] = []
    try:
        for start in range(0, len(rows), batch_size):
            batch, n = rows[start:start + batch_size], counts[start:start + batch_size]
            ids, mask = left_pad(batch, tok.pad_token_id)
            logp = token_log_probs(model, ids.to(device), mask.to(device), max(n))
            out.extend(float(row[-k:].sum()) for row, k in zip(logp, n, strict=True))
    finally:
        model.train(was_training)
    return out


def completion_log_probs(model: Any, tok: Any, rows: Sequence[dict[str, Any]],
                         batch_size: int = 64) -> list[tuple[float, int]]:
    """(sum of log-probabilities of the completion tokens, their count) for each row."""
    encoded = [tokenize_row(tok, r) for r in rows]
    counts = [n for _, n in encoded]
    totals = last_tokens_log_probs(model, tok, [ids for ids, _ in encoded], counts, batch_size)
    return list(zip(totals, counts, strict=True))


def mean_nll(model: Any, tok: Any, rows: Sequence[dict[str, Any]],
             batch_size: int = 64) -> list[float]:
    """Mean negative log-likelihood per completion token of each row (its training loss)."""
    return [-total / max(n, 1) for total, n in completion_log_probs(model, tok, rows, batch_size)]
