"""Answer latency: the compiled closed-book arm against full context and against RAG.

Each arm answers through ``evaluation.arms.answer_questions`` one question at a time (as
``kc ask`` does), on the same base model. compiled: kc-base with a freshly initialised LoRA
adapter (latency does not depend on what it learnt), the question alone. full_context: the
tenant's whole corpus fitted into the model's window, the largest context that fits. rag:
hybrid retrieval of k=4 chunks from a LanceDB index (MiniLM embeddings), fitted the same way.
The corpus is ~140-token chunks of standard-library docstring prose (as in
``embedding_throughput``). Goal: compiled ≥ 5x faster than full context; faster than RAG.
Run: ``python -m benchmarks.answer_latency``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import publish, result_row
from knowledge_compiler.offline import apply_offline_defaults

apply_offline_defaults()

N_CHUNKS = 120
FULL_CONTEXT_GOAL = 5.0


def _questions(texts: list[str], n: int) -> list[str]:
    """Questions about the indexed text: its first words, as a user might ask."""
    out = []
    for text in texts[:: max(1, len(texts) // n)][:n]:
        words = text.split()[:8]
        out.append(f"What does the documentation say about {' '.join(words)}?")
    return out


def _timed(arm: str, questions: list[str], bundle, index, principal, settings) -> dict:
    from evaluation.arms import answer_questions

    answer_questions(questions[:1], arm, bundle, index, principal, settings)  # warm
    answers = answer_questions(questions, arm, bundle, index, principal, settings)
    tok = bundle.tokenizer
    return {"median_s": statistics.median(a.latency_s for a in answers),
            "prompt_tokens": statistics.mean(a.prompt_tokens for a in answers),
            "answer_tokens": statistics.mean(len(tok(a.text, add_special_tokens=False)
                                                 ["input_ids"]) for a in answers)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8)
    args = parser.parse_args(argv)

    import torch
    from peft import get_peft_model

    from benchmarks.embedding_throughput import chunk_texts
    from benchmarks.models import base_model
    from evaluation.arms import AnsweringModel, ArmSettings, model_window
    from retrieval import ChunkIndex, SentenceTransformerEmbedder
    from retrieval.access import Principal
    from training.base_model import load_causal_lm
    from training.sft import SFTSettings

    torch.set_num_threads(1)
    settings = ArmSettings(batch_size=1)
    principal = Principal("bench", frozenset({"all"}), frozenset({"bench"}))
    with tempfile.TemporaryDirectory(prefix="kc-bench-answer-") as tmp:
        path, label = base_model(Path(tmp))
        embedder = SentenceTransformerEmbedder(threads=1)
        texts, _ = chunk_texts(embedder, N_CHUNKS)
        index = ChunkIndex(Path(tmp) / "index", embedder)
        index.sync([{"chunk_id": f"c{i:04d}", "document_id": f"d{i // 4}", "tenant": "bench",
                     "acl_groups": ["all"], "route": "volatile", "source_id": "stdlib",
                     "path": f"doc{i // 4}.md", "section": None, "text": text}
                    for i, text in enumerate(texts)])
        questions = _questions(texts, args.questions)
        model, tok = load_causal_lm(path)
        base = AnsweringModel(model, tok, model_window(model), "base")
        adapted, _ = load_causal_lm(path)
        adapted = get_peft_model(adapted, SFTSettings().lora_config()).eval()
        compiled = AnsweringModel(adapted, tok, base.window, "compiled")
        measured = {
            "compiled": _timed("compiled", questions, compiled, None, None, settings),
            "base": _timed("base", questions, base, None, None, settings),
            "full_context": _timed("full_context", questions, base, index, principal, settings),
            "rag": _timed("rag", questions, base, index, principal, settings),
        }
    ours = measured["compiled"]
    # The base model closed-book: what the adapter's unmerged LoRA layers add to each step.
    detail = {"model": label, "window": base.window, "questions": len(questions),
              "torch_threads": 1,
              "base closed-book ms (no adapter)": round(measured["base"]["median_s"] * 1000)}
    rows = []
    for peer, goal, ok in (("full_context", f">= {FULL_CONTEXT_GOAL:g}x faster",
                            lambda r: r >= FULL_CONTEXT_GOAL),
                           ("rag", "> 1x faster", lambda r: r > 1.0)):
        theirs = measured[peer]
        speedup = theirs["median_s"] / ours["median_s"]
        rows.append(result_row(
            "compiled closed-book answer latency (median)", f"{peer} answer latency (median)",
            ours["median_s"] * 1000, theirs["median_s"] * 1000, "ms", speedup,
            f"{goal} (ratio = theirs / ours)", ok(speedup),
            **{"prompt tokens (ours / theirs)":
               f"{ours['prompt_tokens']:.0f} / {theirs['prompt_tokens']:.0f}",
               "answer tokens (ours / theirs)":
               f"{ours['answer_tokens']:.1f} / {theirs['answer_tokens']:.1f}"}, **detail))
    publish("answer_latency", rows, notes=__doc__ or "")
    return rows


if __name__ == "__main__":
    main()
