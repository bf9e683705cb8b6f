"""Answer latency on SmolLM2-135M-Instruct: compiled closed-book against the context filled.

One question at a time (as ``kc ask`` answers), greedy, every arm generating exactly
``ANSWER_TOKENS`` (16) tokens (the end-of-turn token is not allowed to stop an arm early, so
the arms generate the same amount). compiled: the base with a freshly initialised default
LoRA adapter (r=32 on every linear layer, unmerged; latency does not depend on what it
learnt), the prompt being the question alone (~30 tokens). full context: the base with the
question after numbered passages (``training.prompting``'s one prompt format) filling
1,024 tokens (the size of a RAG prompt of k=4-6 chunks), 4,096 tokens and the largest
prompt that fits SmolLM2's 8,192-token window with the answer budget left
(8,192 - 16 = 8,176), each to within a token or two (whole passages, then the first words of
the next). Passages are ~140-token chunks of standard-library docstring prose (as in
``embedding_throughput``).

Prefill (the prompt's forward pass into a fresh KV cache, which yields the first answer token)
and generation (the other 15 tokens, one cached step each) are timed apart: this is
``model.generate``'s greedy loop written out, with ``logits_to_keep=1`` as ``generate`` does.
Latency is their sum (median of repeats: 5 closed-book, 3 at ~1k, 1 at ~4k and at the
largest). Goals: compiled >= 5x faster than the largest context; faster than a ~1k
(RAG-sized) prompt.

Anchor: serving a big model, throughput fell from 10,000 to 130 tokens/s between a short
prompt and a 128k-token context: a ~77x drop. The ``throughput drop`` row sets our drop
(answer tokens/s end to end, and decode tokens/s alone, closed-book against the largest
context) beside it; a 135M model on a CPU with an 8k window is a far smaller scale, so the row
is context, not a goal. Run: ``python -m benchmarks.answer_latency [--threads N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import publish, result_row
from knowledge_compiler.offline import apply_offline_defaults

apply_offline_defaults()

ANSWER_TOKENS = 16
PASSAGE_TOKENS = 140
FULL_CONTEXT_GOAL = 5.0
ANCHOR = (10_000, 130)  # tokens/s, short prompt -> 128k context (big model, GPU serving)
QUESTION = "What does the documentation say about the default value of the timeout argument?"


def context_sizes(window: int, answer_tokens: int = ANSWER_TOKENS) -> list[tuple[str, int]]:
    """(label, prompt token budget): ~1k, ~4k and the largest prompt that fits the window."""
    largest = window - answer_tokens
    sizes = [(f"~{n // 1024}k", n) for n in (1024, 4096) if n < largest]
    return [*sizes, ("largest that fits", largest)]


def passages_of(tok: Any, sentences: Sequence[str], target: int = PASSAGE_TOKENS) -> list[str]:
    """Sentences joined into passages of about ``target`` tokens of ``tok``."""
    out, current, count = [], [], 0
    for sentence in sentences:
        current.append(sentence)
        count += len(tok(sentence, add_special_tokens=False)["input_ids"])
        if count >= target:
            out.append(" ".join(current))
            current, count = [], 0
    return out


def _most(fits: Any, n: int) -> int:
    """The largest ``k`` in 0..n with ``fits(k)``, for a ``fits`` true up to some k."""
    low, high = 0, n
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low


def fill(tok: Any, question: str, passages: Sequence[str], budget: int) -> list[int]:
    """Prompt ids of ``question`` after leading ``passages`` filling ``budget`` tokens: as
    many whole passages as fit, then the first words of the next one that still fit."""
    from training.prompting import prompt_ids

    def ids(k: int, words: int = 0) -> list[int]:
        extra = [" ".join(passages[k].split()[:words])] if words else []
        return prompt_ids(tok, question, [*passages[:k], *extra])

    whole = _most(lambda k: len(ids(k)) <= budget, len(passages))
    if whole == len(passages):
        raise RuntimeError(f"{len(passages)} passages do not fill {budget} tokens")
    words = _most(lambda w: len(ids(whole, w)) <= budget, len(passages[whole].split()))
    return ids(whole, words)


def timed_answer(model: Any, ids: Sequence[int], new_tokens: int = ANSWER_TOKENS
                 ) -> tuple[float, float, list[int]]:
    """(prefill s, generation s, token ids): greedy, exactly ``new_tokens`` tokens."""
    import torch

    with torch.no_grad():
        started = time.perf_counter()
        out = model(input_ids=torch.tensor([list(ids)]), use_cache=True, logits_to_keep=1)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        prefill = time.perf_counter() - started
        generated = [int(token)]
        started = time.perf_counter()
        for _ in range(new_tokens - 1):
            out = model(input_ids=token, cache=out.cache, use_cache=True,
                        logits_to_keep=1)
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            generated.append(int(token))
        return prefill, time.perf_counter() - started, generated


def measure(model: Any, ids: Sequence[int], repeat: int) -> dict[str, float]:
    """Median prefill, generation and total seconds of ``repeat`` answers, and the rates."""
    runs = [timed_answer(model, ids) for _ in range(repeat)]
    totals = [p + g for p, g, _ in runs]
    best = runs[totals.index(statistics.median_low(totals))]
    prefill, generation = best[0], best[1]
    return {"prompt_tokens": len(ids), "prefill_s": prefill, "generation_s": generation,
            "total_s": prefill + generation,
            "prefill_tokens_per_s": len(ids) / prefill,
            "decode_tokens_per_s": (ANSWER_TOKENS - 1) / generation,
            "answer_tokens_per_s": ANSWER_TOKENS / (prefill + generation), "repeat": repeat}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: see training.trainers.torch_threads)")
    parser.add_argument("--models-dir", type=Path, help="default: $KC_HOME/models")
    args = parser.parse_args(argv)

    import torch
    from peft import get_peft_model

    from benchmarks.index_search import real_sentences
    from benchmarks.models import base_model
    from training.base_model import load_causal_lm
    from training.prompting import prompt_ids
    from training.sft import SFTSettings

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    path, label = base_model(args.models_dir)
    base, tok = load_causal_lm(path)
    adapted, _ = load_causal_lm(path)
    compiled = get_peft_model(adapted, SFTSettings().lora_config()).eval()
    window = int(base.config.max_position_embeddings)
    passages = passages_of(tok, real_sentences(1000, seed=1))
    closed = prompt_ids(tok, QUESTION)

    timed_answer(compiled, closed)  # warm: first calls allocate and pick kernels
    timed_answer(base, closed)
    ours = measure(compiled, closed, 5)
    plain = measure(base, closed, 5)
    contexts = {}
    for name, budget in context_sizes(window):
        ids = fill(tok, QUESTION, passages, budget)
        contexts[name] = measure(base, ids, 3 if budget <= 2048 else 1)
        print(f"answer_latency: {name} ({len(ids)} tokens) {contexts[name]['total_s']:.2f} s",
              flush=True)

    common = {"model": label, "window": window, "answer tokens": ANSWER_TOKENS,
              "torch_threads": args.threads, "load_average": round(load, 2),
              "base closed-book ms (no adapter)": _ms(plain["total_s"])}
    rows = []
    sizes = list(contexts)
    for name in sizes:
        theirs = contexts[name]
        speedup = theirs["total_s"] / ours["total_s"]
        if name == sizes[-1]:
            goal, passed = f">= {FULL_CONTEXT_GOAL:g}x faster", speedup >= FULL_CONTEXT_GOAL
        elif name == sizes[0]:
            goal, passed = "> 1x faster (a RAG-sized prompt)", speedup > 1.0
        else:
            goal, passed = "none (context)", None
        rows.append(result_row(
            "compiled closed-book answer latency", f"full-context answer latency, {name} prompt",
            ours["total_s"] * 1000, theirs["total_s"] * 1000, "ms", speedup,
            f"{goal} (ratio = theirs / ours)", passed,
            **{"prompt tokens (ours / theirs)": f"{ours['prompt_tokens']} / "
                                                f"{theirs['prompt_tokens']}",
               "prefill ms (ours / theirs)": f"{_ms(ours['prefill_s'])} / "
                                             f"{_ms(theirs['prefill_s'])}",
               "generation ms (ours / theirs)": f"{_ms(ours['generation_s'])} / "
                                                f"{_ms(theirs['generation_s'])}",
               "prefill tokens/s (ours / theirs)": f"{ours['prefill_tokens_per_s']:.0f} / "
                                                   f"{theirs['prefill_tokens_per_s']:.0f}",
               "decode tokens/s (ours / theirs)": f"{ours['decode_tokens_per_s']:.1f} / "
                                                  f"{theirs['decode_tokens_per_s']:.1f}",
               "answer tokens/s (ours / theirs)": f"{ours['answer_tokens_per_s']:.1f} / "
                                                  f"{theirs['answer_tokens_per_s']:.1f}",
               "repeats (ours / theirs)": f"{ours['repeat']} / {theirs['repeat']}"}, **common))
    largest = contexts[sizes[-1]]
    drop = ours["answer_tokens_per_s"] / largest["answer_tokens_per_s"]
    decode_drop = ours["decode_tokens_per_s"] / largest["decode_tokens_per_s"]
    anchor = ANCHOR[0] / ANCHOR[1]
    rows.append(result_row(
        f"throughput drop, closed-book -> {largest['prompt_tokens']}-token prompt "
        "(answer tokens/s end to end)",
        f"anchor: {ANCHOR[0]:,} -> {ANCHOR[1]} tokens/s, short prompt -> 128k (big model)",
        drop, anchor, "x", drop / anchor, "none (context: 16x shorter window, 135M on CPU)",
        None, **{"decode-only drop": round(decode_drop, 2),
                 "answer tokens/s (closed-book / largest)":
                 f"{ours['answer_tokens_per_s']:.1f} / {largest['answer_tokens_per_s']:.2f}"},
        **common))
    notes = (f"{__doc__} Shared machine: {os.cpu_count()} cores, 1-minute load average "
             f"{load:.2f} at the start (other jobs run beside it; absolute times move with "
             "them, ratios less).")
    publish("answer_latency", rows, notes=notes)
    return rows


if __name__ == "__main__":
    main()
