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
A full-context prompt is prefilled in two calls, the corpus prefix (everything before the
question) and then the question's tokens. Latency is prefill + generation (median of repeats:
5 closed-book, 3 at ~1k, 1 at ~4k and at the largest). Goals: compiled >= 5x faster than the
largest context; faster than a ~1k (RAG-sized) prompt.

The full-context arm of ``answering`` prefills a corpus once and reuses its KV cache for
every question (``training.generate.answer_with_shared_prefix``): a further question then
costs a copy of that cache, its own tokens and the generation over the long cache. Each
context row gives that figure ("further question ms"), and a row sets it against the compiled
arm at the largest prompt (checked to give the same answer as the uncached prompt).

Anchor: serving a big model, throughput fell from 10,000 to 130 tokens/s between a short
prompt and a 128k-token context: a ~77x drop. The ``throughput drop`` row sets our drop
(answer tokens/s end to end, and decode tokens/s alone, closed-book against the largest
context) beside it; a 135M model on a CPU with an 8k window is a far smaller scale, so the row
is context, not a goal. Run: ``python -m benchmarks.answer_latency [--threads N]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.common import publish, result_row
from settings.offline import apply_offline_defaults

apply_offline_defaults()

ANSWER_TOKENS = 16
PASSAGE_TOKENS = 140
FULL_CONTEXT_GOAL = 5.0
ANCHOR = (10_000, 130)  # tokens/s, short prompt -> 128k context (big model, GPU serving)
QUESTION = "What does the documentation say about the default value of the timeout argument?"
OTHER_QUESTION = "Which function does the documentation name for this?"


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


def fill_passages(tok: Any, question: str, passages: Sequence[str], budget: int) -> list[str]:
    """Leading ``passages`` whose prompt with ``question`` fills ``budget`` tokens: as many
    whole passages as fit, then the first words of the next one that still fit."""
    from training.prompting import prompt_ids

    def chosen(k: int, words: int = 0) -> list[str]:
        return [*passages[:k], *([" ".join(passages[k].split()[:words])] if words else [])]

    def fits(k: int, words: int = 0) -> bool:
        return len(prompt_ids(tok, question, chosen(k, words))) <= budget

    whole = _most(fits, len(passages))
    if whole == len(passages):
        raise RuntimeError(f"{len(passages)} passages do not fill {budget} tokens")
    return chosen(whole, _most(lambda w: fits(whole, w), len(passages[whole].split())))


def fill(tok: Any, question: str, passages: Sequence[str], budget: int) -> list[int]:
    """Prompt ids of ``question`` after the passages of ``fill_passages``."""
    from training.prompting import prompt_ids

    return prompt_ids(tok, question, fill_passages(tok, question, passages, budget))


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))


class Timed(NamedTuple):
    prefill_s: float
    generation_s: float
    tokens: list[int]
    prefix: Any  # a copy of the KV cache after the first ``split`` tokens (None: no split)


def timed_answer(model: Any, ids: Sequence[int], new_tokens: int = ANSWER_TOKENS,
                 split: int = 0, prefix: Any = None) -> Timed:
    """Greedy, exactly ``new_tokens`` tokens; prefill and generation timed apart.

    ``split``: prefill ``ids[:split]`` then the rest (both timed), keeping an untimed copy of
    the cache between them (``Timed.prefix``). ``prefix``: such a copy for ``ids[:split]``;
    only the rest is prefilled, onto a copy of it (the copy is timed, as
    ``training.generate.answer_with_shared_prefix`` pays it for every question).
    """
    import torch

    def forward(tokens: Sequence[int], cache: Any) -> Any:
        return model(input_ids=torch.tensor([list(tokens)]), cache=cache, use_cache=True,
                     logits_to_keep=1)

    kept, copy_s = None, 0.0
    with torch.no_grad():
        started = time.perf_counter()
        if prefix is not None:
            out = forward(ids[split:], copy.deepcopy(prefix))
        elif split:
            out = forward(ids[:split], None)
            copied = time.perf_counter()
            kept = copy.deepcopy(out.cache)
            copy_s = time.perf_counter() - copied
            out = forward(ids[split:], out.cache)
        else:
            out = forward(ids, None)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        prefill = time.perf_counter() - started - copy_s
        generated = [int(token)]
        started = time.perf_counter()
        for _ in range(new_tokens - 1):
            out = model(input_ids=token, cache=out.cache, use_cache=True, logits_to_keep=1)
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            generated.append(int(token))
        return Timed(prefill, time.perf_counter() - started, generated, kept)


def _rates(prompt_tokens: int, prefilled: int, prefill: float, generation: float) -> dict:
    return {"prompt_tokens": prompt_tokens, "prefill_s": prefill, "generation_s": generation,
            "total_s": prefill + generation, "prefill_tokens_per_s": prefilled / prefill,
            "decode_tokens_per_s": (ANSWER_TOKENS - 1) / generation,
            "answer_tokens_per_s": ANSWER_TOKENS / (prefill + generation)}


def measure(model: Any, ids: Sequence[int], repeat: int, split: int = 0) -> dict[str, Any]:
    """The median of ``repeat`` answers (prefill, generation, total, rates). With ``split``
    (the corpus prefix shared by every question), also ``shared``: the same answer with that
    prefix's cache already computed, what each further question costs."""
    runs = [timed_answer(model, ids, split=split) for _ in range(repeat)]
    totals = [r.prefill_s + r.generation_s for r in runs]
    median = runs[totals.index(statistics.median_low(totals))]
    result = {**_rates(len(ids), len(ids), median.prefill_s, median.generation_s),
              "repeat": repeat}
    if split:
        again = timed_answer(model, ids, split=split, prefix=runs[-1].prefix)
        result["shared"] = {**_rates(len(ids), len(ids) - split, again.prefill_s,
                                     again.generation_s),
                            "prefix_tokens": split, "same_answer": again.tokens == median.tokens}
    return result


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
    compiled = get_peft_model(adapted, SFTSettings().lora).eval()
    window = int(base.config.max_position_embeddings)
    passages = passages_of(tok, real_sentences(1000, seed=1))
    closed = prompt_ids(tok, QUESTION)

    timed_answer(compiled, closed)  # warm: first calls allocate and pick kernels
    timed_answer(base, closed)
    ours = measure(compiled, closed, 5)
    plain = measure(base, closed, 5)
    contexts = {}
    for name, budget in context_sizes(window):
        chosen = fill_passages(tok, QUESTION, passages, budget)
        ids = prompt_ids(tok, QUESTION, chosen)
        split = shared_prefix(ids, prompt_ids(tok, OTHER_QUESTION, chosen))
        contexts[name] = measure(base, ids, 3 if budget <= 2048 else 1, split)
        print(f"answer_latency: {name} ({len(ids)} tokens) {contexts[name]['total_s']:.2f} s",
              flush=True)

    common = {"model": label, "window": window, "answer tokens": ANSWER_TOKENS,
              "torch_threads": args.threads, "load_average": round(load, 2),
              "base closed-book ms (no adapter)": _ms(plain["total_s"])}
    def row(peer: str, theirs: dict, goal: str, passed: bool | None, **extra: Any) -> dict:
        speedup = theirs["total_s"] / ours["total_s"]
        return result_row(
            "compiled closed-book answer latency", peer, ours["total_s"] * 1000,
            theirs["total_s"] * 1000, "ms", speedup, f"{goal} (ratio = theirs / ours)", passed,
            **{f"{what} (ours / theirs)": f"{fmt(ours[key])} / {fmt(theirs[key])}"
               for what, key, fmt in (
                   ("prompt tokens", "prompt_tokens", str),
                   ("prefill ms", "prefill_s", _ms), ("generation ms", "generation_s", _ms),
                   ("prefill tokens/s", "prefill_tokens_per_s", "{:.0f}".format),
                   ("decode tokens/s", "decode_tokens_per_s", "{:.1f}".format),
                   ("answer tokens/s", "answer_tokens_per_s", "{:.2f}".format))},
            **extra, **common)

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
        rows.append(row(f"full-context answer latency, {name} prompt", theirs, goal, passed, **{
            "repeats (ours / theirs)": f"{ours['repeat']} / {theirs['repeat']}",
            "further question ms, corpus prefix cached": _ms(theirs["shared"]["total_s"])}))
    shared = contexts[sizes[-1]]["shared"]
    rows.append(row(f"full-context answer latency, {sizes[-1]} prompt, each further question "
                    f"(the {shared['prefix_tokens']}-token corpus prefix's KV cache reused)",
                    shared, "none (context: evaluation.arms' full_context shares the prefix)",
                    None, **{"same answer as without the cache": shared["same_answer"]}))
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
