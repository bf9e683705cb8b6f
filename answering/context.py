"""What an arm reads: retrieval through `retrieval.search` with the asking principal (every arm
sees only what that principal may read), the hybrid arm's gate, and passages fitted to the
window (passages that do not fit are dropped from the end, the last one kept cut at the token
level, so no prompt ever exceeds the window)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from answering.model import AnsweringModel
from retrieval.access import Principal
from retrieval.index import ChunkIndex
from retrieval.schema import embedding_text
from retrieval.search import HIT_COLUMNS, Hit, Mode, rrf_fuse, search
from training.prompting import prompt_ids

HYBRID_ROUTES = frozenset({"volatile", "overflow"})
Gate = Literal["agree", "score", "always"]


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
