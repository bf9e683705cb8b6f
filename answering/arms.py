"""The answering arms, shared by `kc ask`, `kc serve` and the evaluation: one language model
(the base + the tenant's adapter) answering five ways.

- `base`: the base model alone, closed-book (the reference).
- `compiled` / `compiled_sft`: the tenant's adapter (GRPO / SFT), closed-book.
- `rag`: the same adapter reading the top-k chunks from all the tenant's content.
- `full_context`: the same adapter reading as much of the tenant's chunk text as fits the window
  (or `max_context_tokens`) beside the question and the answer room (`truncated`,
  `share_fit` = tokens fit / total).
- `hybrid`: the compiled adapter, plus the top-k chunks of the routes {volatile, overflow} only
  when the retrieval gate opens (see `gate_open`).

Retrieval always goes through `retrieval.search` with the asking principal, so every arm sees
only what that principal may read. Passages that do not fit the window are dropped from the
end (the last one kept is cut at the token level), so no prompt ever exceeds the window.
`latency_s` covers retrieval plus generation; with `batch_size` > 1 it is the batch's wall
time divided by its size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from answering.context import (
    ArmSettings,
    CorpusCache,
    citation,
    fit_passages,
    hybrid_retrieve,
    retrieve,
)
from answering.model import AnsweringModel
from retrieval.access import Principal
from retrieval.index import ChunkIndex
from retrieval.search import Hit
from training.generate import answer as generate_answers
from training.generate import answer_with_shared_prefix, stream_answer
from training.prompting import prompt_ids

ARMS = ("base", "compiled", "compiled_sft", "rag", "full_context", "hybrid")
ANSWERING_ARMS = frozenset(ARMS)
CONTEXT_ARMS = frozenset({"rag", "full_context", "hybrid"})


@dataclass
class Answer:
    """One arm's answer to one question, with what it read and what it cost."""

    text: str
    arm: str
    citations: list[dict[str, Any]]
    prompt_tokens: int
    latency_s: float
    reader: str
    context_added: bool = False
    truncated: bool | None = None
    share_fit: float | None = None
    question: str = ""
    prefill_s: float | None = None  # full_context: the shared corpus prefill, paid once

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


PrincipalFor = Principal | Callable[[str], Principal]


@dataclass
class _Prepared:
    question: str
    passages: list[str] | None
    hits: list[Hit]
    prompt_tokens: int
    retrieval_s: float
    context_added: bool = False
    truncated: bool | None = None
    share_fit: float | None = None


def _prepare(question: str, arm: str, bundle: AnsweringModel, index: ChunkIndex | None,
             principal: Principal | None, settings: ArmSettings,
             corpus: CorpusCache) -> _Prepared:
    started = time.perf_counter()
    if arm not in ANSWERING_ARMS:
        raise ValueError(f"unknown arm {arm!r}: expected one of {ARMS}")
    if arm in ("base", "compiled", "compiled_sft"):
        n = len(prompt_ids(bundle.tokenizer, question, None))
        return _Prepared(question, None, [], n, time.perf_counter() - started)
    if index is None or principal is None:
        raise ValueError(f"the {arm} arm needs an index and a principal")
    if arm == "full_context":
        hits, lengths = corpus.get(index, principal, bundle)
        fitted = fit_passages(bundle, question, hits, settings.max_new_tokens, lengths,
                              settings.max_context_tokens)
        return _Prepared(question, fitted.passages or None, fitted.hits, fitted.prompt_tokens,
                         time.perf_counter() - started, bool(fitted.passages),
                         fitted.truncated, fitted.share_fit)
    if arm == "rag":
        hits, opened = retrieve(index, question, principal, settings), True
    else:
        hits, opened = hybrid_retrieve(index, question, principal, settings)
    if not opened or not hits:
        n = len(prompt_ids(bundle.tokenizer, question, None))
        return _Prepared(question, None, [], n, time.perf_counter() - started)
    fitted = fit_passages(bundle, question, hits, settings.max_new_tokens)
    return _Prepared(question, fitted.passages or None, fitted.hits, fitted.prompt_tokens,
                     time.perf_counter() - started, bool(fitted.passages), fitted.truncated,
                     fitted.share_fit)


def resolve_principal(principal: PrincipalFor | None, tenant: str | None) -> Principal | None:
    if principal is None or isinstance(principal, Principal):
        return principal
    if tenant is None:
        raise ValueError("a principal factory needs each question's tenant")
    return principal(tenant)


def answer_questions(questions: Sequence[str], arm: str, bundle: AnsweringModel,
                     index: ChunkIndex | None = None, principal: PrincipalFor | None = None,
                     settings: ArmSettings | None = None, tenants: Sequence[str] | None = None,
                     corpus: CorpusCache | None = None) -> list[Answer]:
    """Answers of one arm to many questions, generated `settings.batch_size` at a time.

    `principal` is one Principal, or a function tenant -> Principal used with `tenants`
    (one tenant per question).
    """
    settings = settings or ArmSettings()
    corpus = corpus if corpus is not None else CorpusCache()
    if tenants is not None and len(tenants) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(tenants)} tenants")
    if arm == "full_context":
        return _answer_full_context(questions, bundle, index, principal, settings, tenants,
                                    corpus)
    out: list[Answer] = []
    for start in range(0, len(questions), settings.batch_size):
        batch = range(start, min(start + settings.batch_size, len(questions)))
        prepared = [_prepare(questions[i], arm, bundle, index,
                             resolve_principal(principal, tenants[i] if tenants else None)
                             if arm in CONTEXT_ARMS else None, settings, corpus)
                    for i in batch]
        out += _answer_batch(prepared, arm, bundle, settings)
    return out


def _answer_full_context(questions: Sequence[str], bundle: AnsweringModel,
                         index: ChunkIndex | None, principal: PrincipalFor | None,
                         settings: ArmSettings, tenants: Sequence[str] | None,
                         corpus: CorpusCache) -> list[Answer]:
    """The full-context arm: per principal, one corpus text fitted to the window for the
    longest question, prefilled once and shared by every question (its KV cache is reused), so
    the corpus costs one prefill rather than one per question. The answers equal those of
    separate prompts of the same tokens."""
    if index is None or principal is None:
        raise ValueError("the full_context arm needs an index and a principal")
    groups: dict[Principal, list[int]] = {}
    for i in range(len(questions)):
        who = resolve_principal(principal, tenants[i] if tenants else None)
        assert who is not None
        groups.setdefault(who, []).append(i)
    out: list[Answer | None] = [None] * len(questions)
    tok = bundle.tokenizer
    for who, members in groups.items():
        started = time.perf_counter()
        hits, lengths = corpus.get(index, who, bundle)
        longest = max((questions[i] for i in members),
                      key=lambda q: len(prompt_ids(tok, q, None)))
        fitted = fit_passages(bundle, longest, hits, settings.max_new_tokens, lengths,
                              settings.max_context_tokens)
        passages = fitted.passages or None
        rows = [prompt_ids(tok, questions[i], passages) for i in members]
        fit_s = time.perf_counter() - started
        texts, timing = answer_with_shared_prefix(bundle.model, tok, rows,
                                                  settings.max_new_tokens)
        each = (fit_s + timing["prefill_s"] + timing["answer_s"]) / len(members)
        for i, row, text in zip(members, rows, texts, strict=True):
            out[i] = Answer(text=text, arm="full_context",
                            citations=[citation(h) for h in fitted.hits], prompt_tokens=len(row),
                            latency_s=each, reader=bundle.name,
                            context_added=bool(fitted.passages), truncated=fitted.truncated,
                            share_fit=fitted.share_fit, question=questions[i],
                            prefill_s=timing["prefill_s"])
    return [a for a in out if a is not None]


def _answer_batch(prepared: list[_Prepared], arm: str, bundle: AnsweringModel,
                  settings: ArmSettings) -> list[Answer]:
    """Generate the batch's answers (closed-book and with passages alike) in one pass."""
    started = time.perf_counter()
    contexts = [p.passages for p in prepared]
    texts = generate_answers(bundle.model, bundle.tokenizer, [p.question for p in prepared],
                             contexts if any(contexts) else None,
                             max_new_tokens=settings.max_new_tokens,
                             batch_size=settings.batch_size)
    each = (time.perf_counter() - started) / len(prepared)
    return [Answer(text=text, arm=arm, citations=[citation(h) for h in p.hits],
                   prompt_tokens=p.prompt_tokens, latency_s=p.retrieval_s + each,
                   reader=bundle.name, context_added=p.context_added, truncated=p.truncated,
                   share_fit=p.share_fit, question=p.question)
            for text, p in zip(texts, prepared, strict=True)]


def stream_question(question: str, arm: str, bundle: AnsweringModel,
                    index: ChunkIndex | None = None, principal: Principal | None = None,
                    settings: ArmSettings | None = None) -> tuple[Answer, Iterator[str]]:
    """One arm's answer as it is generated (`kc ask`): an `Answer` whose `text` is filled in
    when the iterator is exhausted, and the iterator of text pieces."""
    settings = settings or ArmSettings()
    started = time.perf_counter()
    p = _prepare(question, arm, bundle, index, principal if arm in CONTEXT_ARMS else None,
                 settings, CorpusCache())
    reply = Answer(text="", arm=arm, citations=[citation(h) for h in p.hits],
                   prompt_tokens=p.prompt_tokens, latency_s=0.0, reader=bundle.name,
                   context_added=p.context_added, truncated=p.truncated, share_fit=p.share_fit,
                   question=question)

    def pieces() -> Iterator[str]:
        for piece in stream_answer(bundle.model, bundle.tokenizer, question, p.passages,
                                   settings.max_new_tokens):
            reply.text += piece
            yield piece
        reply.text = reply.text.strip()
        reply.latency_s = time.perf_counter() - started
    return reply, pieces()


def answer_question(question: str, arm: str, bundle: AnsweringModel,
                    index: ChunkIndex | None = None, principal: Principal | None = None,
                    settings: ArmSettings | None = None,
                    corpus: CorpusCache | None = None) -> Answer:
    """One arm's answer to one question. `bundle` is the model the arm reads with: the base
    model for base, the tenant's adapter for every other arm."""
    return answer_questions([question], arm, bundle, index, principal, settings,
                            corpus=corpus)[0]
