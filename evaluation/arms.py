"""The answering arms: one language model (the base + the tenant's adapter) answering five ways.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retrieval.access import Principal
from retrieval.index import ChunkIndex
from retrieval.schema import embedding_text
from retrieval.search import HIT_COLUMNS, Hit, Mode, rrf_fuse, search
from training.generate import answer as generate_answers
from training.generate import answer_with_shared_prefix, stream_answer
from training.prompting import prompt_ids

ARMS = ("base", "compiled", "compiled_sft", "rag", "full_context", "hybrid")
ANSWERING_ARMS = frozenset(ARMS)
CONTEXT_ARMS = frozenset({"rag", "full_context", "hybrid"})
HYBRID_ROUTES = frozenset({"volatile", "overflow"})
Gate = Literal["agree", "score", "always"]


@dataclass
class AnsweringModel:
    """A loaded causal LM, its tokenizer and its window (maximum positions)."""

    model: Any
    tokenizer: Any
    window: int
    name: str = "model"

    @classmethod
    def load(cls, base_path: str | Path, adapter_dir: str | Path | None = None,
             name: str | None = None) -> AnsweringModel:
        """The base model at `base_path`, with the LoRA adapter in `adapter_dir` if given."""
        from training.base_model import load_causal_lm

        model, tok = load_causal_lm(base_path)
        if adapter_dir is not None:
            from peft import PeftModel

            if not Path(adapter_dir).is_dir():
                raise FileNotFoundError(f"adapter directory {adapter_dir} does not exist")
            model = PeftModel.from_pretrained(model, str(adapter_dir))
            model.eval()
        label = name or (Path(adapter_dir).parent.name if adapter_dir else Path(base_path).name)
        return cls(model, tok, model_window(model), label)


def model_window(model: Any) -> int:
    """The most positions the model takes (max_position_embeddings, n_positions, ...)."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError(f"cannot tell the window of {type(model).__name__}: its config has no "
                     "max_position_embeddings; pass AnsweringModel(window=...)")


@dataclass(frozen=True)
class ArmSettings:
    """How the context arms retrieve and how answers are generated."""

    k: int = field(default=4, metadata={"help": "Chunks retrieved for rag, hybrid, ceiling."})
    mode: Mode = field(default="hybrid", metadata={"help": "Search mode: vector|fts|hybrid."})
    max_new_tokens: int = field(default=16, metadata={"help": "Answer room in tokens."})
    max_context_tokens: int | None = field(default=None, metadata={
        "help": "Prompt tokens the full-context arm may use (None: the model's whole window). "
                "Prefill grows with it: on 2 CPU cores an 8k prompt takes tens of seconds."})
    batch_size: int = field(default=8, metadata={"help": "Questions generated together."})
    hybrid_routes: frozenset[str] = field(default=HYBRID_ROUTES, metadata={
        "help": "Routes the hybrid arm may retrieve from (the rest is in the weights)."})
    hybrid_gate: Gate = field(default="agree", metadata={
        "help": "agree: context only when the vector and full-text top-1 are the same chunk; "
                "score: only when the top hit of `mode` scores >= hybrid_min_score; always."})
    hybrid_min_score: float = field(default=0.5, metadata={
        "help": "Threshold of the `score` gate, on the scale of `mode` (cosine for vector)."})

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("k, max_new_tokens and batch_size must be at least 1")
        if self.hybrid_gate not in ("agree", "score", "always"):
            raise ValueError(f"unknown hybrid_gate {self.hybrid_gate!r}")
        object.__setattr__(self, "hybrid_routes", frozenset(self.hybrid_routes))


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


def citation(hit: Hit) -> dict[str, Any]:
    return {"chunk_id": hit.chunk_id, "source_id": hit.source_id, "path": hit.path,
            "section": hit.section, "route": hit.route, "score": hit.score}


# ---------------------------------------------------------------- retrieval
def retrieve(index: ChunkIndex, question: str, principal: Principal, settings: ArmSettings,
             routes: frozenset[str] | None = None) -> list[Hit]:
    """The top-k hits the principal may read (all routes when `routes` is None)."""
    return search(index, question, principal, k=settings.k, mode=settings.mode, routes=routes)


def gate_open(hits: Sequence[Hit], vector_top: Hit | None, fts_top: Hit | None,
              settings: ArmSettings) -> bool:
    """Whether the hybrid arm shows its retrieved chunks.

    RRF scores are rank-based and say nothing about absolute relevance, so the default rule
    (`agree`) asks two independent rankers: context is added only when the vector leg and the
    full-text leg put the same chunk first. No full-text match (no shared term) keeps the gate
    shut. `score` compares the top hit's score with `hybrid_min_score`; `always` always opens.
    """
    if not hits:
        return False
    if settings.hybrid_gate == "always":
        return True
    if settings.hybrid_gate == "score":
        return hits[0].score >= settings.hybrid_min_score
    return (vector_top is not None and fts_top is not None
            and vector_top.chunk_id == fts_top.chunk_id)


def hybrid_retrieve(index: ChunkIndex, question: str, principal: Principal,
                    settings: ArmSettings) -> tuple[list[Hit], bool]:
    """The hybrid arm's hits (volatile/overflow only) and whether its gate opens."""
    routes = settings.hybrid_routes
    if settings.hybrid_gate != "agree":
        hits = retrieve(index, question, principal, settings, routes)
        return hits, gate_open(hits, None, None, settings)
    depth = max(settings.k, 20)
    vector = search(index, question, principal, k=depth, mode="vector", routes=routes)
    fts = search(index, question, principal, k=depth, mode="fts", routes=routes)
    if settings.mode == "vector":
        hits = vector[:settings.k]
    elif settings.mode == "fts":
        hits = fts[:settings.k]
    else:
        hits = rrf_fuse([vector, fts], settings.k)
    opened = gate_open(hits, vector[0] if vector else None, fts[0] if fts else None, settings)
    return hits, opened


def tenant_corpus(index: ChunkIndex, principal: Principal) -> list[Hit]:
    """Every chunk the principal may read, ordered by (source, path, section, chunk id)."""
    scope = principal.scope
    if scope.is_empty or index.count_rows() == 0:
        return []
    rows = (index.table.search().where(scope.to_filter(), prefilter=True)
            .select(HIT_COLUMNS).limit(None).to_arrow().to_pylist())
    rows.sort(key=lambda r: (r["source_id"], r["path"] or "", r["section"] or "", r["chunk_id"]))
    return [Hit(**r, score=0.0) for r in rows]


# ---------------------------------------------------------------- fitting the window
@dataclass
class Fitted:
    """Passages that fit a prompt, and how much of the offered text that was."""

    passages: list[str]
    hits: list[Hit]
    prompt_tokens: int
    fit_tokens: int
    total_tokens: int

    @property
    def truncated(self) -> bool:
        return self.fit_tokens < self.total_tokens

    @property
    def share_fit(self) -> float:
        return self.fit_tokens / self.total_tokens if self.total_tokens else 1.0


def passage_text(hit: Hit) -> str:
    """A passage as a reader sees it: its heading path, then its text (a chunk's text alone may
    not say what it is about: "Active incident: INC-4907" under "Northwind Service Status")."""
    return embedding_text(hit.section, hit.text)


def _token_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def fit_passages(bundle: AnsweringModel, question: str, hits: Sequence[Hit],
                 max_new_tokens: int, lengths: Sequence[int] | None = None,
                 max_prompt_tokens: int | None = None) -> Fitted:
    """As many of `hits` (in order) as fit the window with the question and answer room.

    Whole passages are taken while they fit; the first that does not is cut to the tokens
    left. `lengths` (token counts of the hit texts) may be passed to skip re-tokenizing a
    corpus for every question. The final prompt is measured exactly and trimmed if needed.
    """
    tok = bundle.tokenizer
    sizes = (list(lengths) if lengths is not None
             else [_token_ids(tok, passage_text(h)) for h in hits])
    sizes = [s if isinstance(s, int) else len(s) for s in sizes]
    total = sum(sizes)
    closed = len(prompt_ids(tok, question, None))
    # "Context:\n" and the "[i] " markers cost a few tokens: measure them on a one-word prompt.
    overhead = len(prompt_ids(tok, question, ["x"])) - closed
    window = _window(bundle, max_new_tokens, max_prompt_tokens)
    budget = window - max_new_tokens - closed - overhead
    passages: list[str] = []
    kept: list[Hit] = []
    used = 0
    for i, (hit, size) in enumerate(zip(hits, sizes, strict=True)):
        marker = 4 if i else 0  # "\n[i] " for the passages after the first
        if used + size + marker <= budget:
            passages.append(passage_text(hit))
            kept.append(hit)
            used += size + marker
            continue
        room = budget - used - marker
        if room > 8:
            ids = _token_ids(tok, passage_text(hit))[:room]
            passages.append(tok.decode(ids, skip_special_tokens=True))
            kept.append(hit)
        break
    return _trim_to_window(bundle, question, passages, kept, window - max_new_tokens, total)


def _window(bundle: AnsweringModel, max_new_tokens: int, max_prompt_tokens: int | None) -> int:
    """The positions a prompt and its answer may take: the model's window, or less."""
    if max_prompt_tokens is None:
        return bundle.window
    return min(bundle.window, max_prompt_tokens + max_new_tokens)


def _trim_to_window(bundle: AnsweringModel, question: str, passages: list[str], hits: list[Hit],
                    limit: int, total: int) -> Fitted:
    tok = bundle.tokenizer
    while True:
        n_prompt = len(prompt_ids(tok, question, passages or None))
        if n_prompt <= limit or not passages:
            break
        excess = n_prompt - limit
        last = _token_ids(tok, passages[-1])
        if len(last) > excess + 8:
            passages[-1] = tok.decode(last[:len(last) - excess - 2], skip_special_tokens=True)
        else:
            passages.pop()
            hits.pop()
    if n_prompt > limit:
        raise ValueError(f"the question alone takes {n_prompt} tokens: it does not fit the "
                         f"{limit} prompt tokens the window leaves")
    fit = sum(len(_token_ids(tok, p)) for p in passages)
    return Fitted(passages, hits, n_prompt, min(fit, total), total)


# ---------------------------------------------------------------- answering
PrincipalFor = Principal | Callable[[str], Principal]


@dataclass
class CorpusCache:
    """The full-context arm's corpus per principal, tokenized once."""

    entries: dict[Principal, tuple[list[Hit], list[int]]] = field(default_factory=dict)

    def get(self, index: ChunkIndex, principal: Principal,
            bundle: AnsweringModel) -> tuple[list[Hit], list[int]]:
        if principal not in self.entries:
            hits = tenant_corpus(index, principal)
            self.entries[principal] = (hits, [len(_token_ids(bundle.tokenizer, passage_text(h)))
                                              for h in hits])
        return self.entries[principal]


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


def _resolve(principal: PrincipalFor | None, tenant: str | None) -> Principal | None:
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
                             _resolve(principal, tenants[i] if tenants else None)
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
        who = _resolve(principal, tenants[i] if tenants else None)
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


def rag_ceiling(questions: Sequence[str], golds: Sequence[str | Sequence[str]],
                index: ChunkIndex, principal: PrincipalFor, settings: ArmSettings | None = None,
                tenants: Sequence[str] | None = None) -> tuple[float | None, list[bool]]:
    """Share of questions whose normalised answer occurs in the normalised top-k text (all
    routes): the best any reader could do with this retrieval. Also the per-question flags."""
    from evaluation.metrics import answer_in_text

    settings = settings or ArmSettings()
    if len(golds) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(golds)} gold answers")
    flags = []
    for i, (question, gold) in enumerate(zip(questions, golds, strict=True)):
        who = _resolve(principal, tenants[i] if tenants else None)
        assert who is not None
        hits = retrieve(index, question, who, settings)
        flags.append(answer_in_text(gold, "\n".join(h.text for h in hits)))
    return (sum(flags) / len(flags) if flags else None), flags


def bundles_for_arms(base: AnsweringModel, compiled: AnsweringModel | None = None,
                     compiled_sft: AnsweringModel | None = None) -> Mapping[str, AnsweringModel]:
    """Which model each arm reads with: the adapter for every arm but `base` (one model reads
    and remembers); without an adapter the context arms read with the base."""
    out = {"base": base, "rag": base, "full_context": base}
    if compiled is not None:
        out.update(compiled=compiled, hybrid=compiled, rag=compiled, full_context=compiled)
    if compiled_sft is not None:
        out["compiled_sft"] = compiled_sft
    return out
