"""Every arm on a tiny random model over a hashing index (answers are noise; the plumbing is
what is checked: prompts, citations, windows, access, the gate and the ceiling)."""

from __future__ import annotations

import pytest

from answering import (
    Answer,
    AnsweringModel,
    ArmSettings,
    CorpusCache,
    answer_question,
    answer_questions,
    fit_passages,
    tenant_corpus,
)
from answering.context import gate_open
from evaluation.runner import rag_ceiling
from retrieval import ChunkIndex
from retrieval.access import Principal
from retrieval.search import Hit
from tests.answering.fixtures import WINDOW, principal_for
from training.prompting import prompt_ids

SETTINGS = ArmSettings(k=2, mode="hybrid", max_new_tokens=4, batch_size=4)


def test_arms_closed_book(base_bundle: AnsweringModel, compiled_bundle: AnsweringModel) -> None:
    base = answer_question("Who owns Zarnik Pay?", "base", base_bundle, settings=SETTINGS)
    compiled = answer_question("Who owns Zarnik Pay?", "compiled", compiled_bundle,
                               settings=SETTINGS)
    assert isinstance(base, Answer) and isinstance(base.text, str)
    assert (base.arm, base.reader, compiled.arm, compiled.reader) == (
        "base", "tiny-base", "compiled", "tiny-compiled")
    expected = len(prompt_ids(base_bundle.tokenizer, "Who owns Zarnik Pay?"))
    assert base.prompt_tokens == compiled.prompt_tokens == expected
    assert base.citations == [] and not base.context_added and base.latency_s > 0
    assert base_bundle.window == WINDOW


def test_arms_rag_cites_only_the_tenants_chunks(base_bundle: AnsweringModel, index: ChunkIndex,
                                               acme: Principal) -> None:
    got = answer_question("Which port does the Orvik Relay listen on?", "rag", base_bundle,
                          index, acme, SETTINGS)
    assert got.arm == "rag" and got.context_added
    assert len(got.citations) == 2
    assert got.citations[0]["chunk_id"] == "c2"
    assert {c["source_id"] for c in got.citations} == {"src-acme"}
    assert set(got.citations[0]) >= {"chunk_id", "source_id", "path"}
    closed = len(prompt_ids(base_bundle.tokenizer, "Which port does the Orvik Relay listen on?"))
    assert got.prompt_tokens > closed


def test_arms_full_context_fits_and_flags_truncation(base_bundle: AnsweringModel,
                                                     index: ChunkIndex, acme: Principal) -> None:
    small = answer_question("Who owns Zarnik Pay?", "full_context", base_bundle, index, acme,
                            SETTINGS)
    assert small.truncated is False and small.share_fit == 1.0
    assert [c["chunk_id"] for c in small.citations] == ["c1", "c2", "c3", "c4"]
    assert small.prompt_tokens + SETTINGS.max_new_tokens <= WINDOW

    long_text = " ".join(f"fact number {i} is value {i}." for i in range(60))
    hits = [Hit(f"l{i}", "d", "acme", "static", "s", "p", None, long_text, 0.0)
            for i in range(3)]
    fitted = fit_passages(base_bundle, "Who owns Zarnik Pay?", hits, SETTINGS.max_new_tokens)
    assert fitted.truncated and 0 < fitted.share_fit < 0.5
    assert fitted.prompt_tokens == len(prompt_ids(base_bundle.tokenizer, "Who owns Zarnik Pay?",
                                                  fitted.passages))
    assert fitted.prompt_tokens + SETTINGS.max_new_tokens <= WINDOW
    assert fitted.prompt_tokens >= WINDOW - SETTINGS.max_new_tokens - 12  # the window is used


def test_arms_full_context_truncates_a_large_tenant(base_bundle: AnsweringModel,
                                                    tmp_path: pytest.TempPathFactory) -> None:
    from retrieval import HashingEmbedder
    from tests.answering.fixtures import chunk

    big = ChunkIndex(tmp_path / "big", embedder=HashingEmbedder(dim=64))
    big.sync([chunk(f"b{i}", f"document {i} says the code of item {i} is zx-{i}b. " * 3)
              for i in range(12)])
    corpus = CorpusCache()
    got = answer_questions(["What is the code of item 3?", "Item 7?"], "full_context",
                           base_bundle, big, principal_for, SETTINGS, ["acme", "acme"], corpus)
    assert all(a.truncated for a in got)
    assert all(0 < a.share_fit < 1 for a in got)
    assert all(a.prompt_tokens + SETTINGS.max_new_tokens <= WINDOW for a in got)
    assert len(corpus.entries) == 1  # the corpus was read and tokenized once


def test_arms_hybrid_gate_and_routes(compiled_bundle: AnsweringModel, index: ChunkIndex,
                                     acme: Principal) -> None:
    got = answer_question("Which port does the Orvik Relay listen on?", "hybrid",
                          compiled_bundle, index, acme, SETTINGS)
    assert got.reader == "tiny-compiled" and got.context_added
    assert got.citations[0]["chunk_id"] == "c2"
    assert {c["route"] for c in got.citations} <= {"volatile", "overflow"}
    # No shared term with any volatile/overflow chunk: the full-text leg is empty, gate shut.
    shut = answer_question("Zzyzx qwvrt?", "hybrid", compiled_bundle, index, acme, SETTINGS)
    assert not shut.context_added and shut.citations == []
    # A static-only question never cites the static chunk.
    static = answer_question("Who owns Zarnik Pay?", "hybrid", compiled_bundle, index, acme,
                             ArmSettings(k=4, hybrid_gate="always", max_new_tokens=4))
    assert "c1" not in {c["chunk_id"] for c in static.citations}


def test_arms_gate_rules() -> None:
    a = Hit("a", "d", "t", "volatile", "s", None, None, "x", 0.7)
    b = Hit("b", "d", "t", "volatile", "s", None, None, "x", 0.3)
    agree = ArmSettings()
    assert gate_open([a], a, a, agree)
    assert not gate_open([a], a, b, agree)
    assert not gate_open([a], a, None, agree)
    assert not gate_open([], None, None, ArmSettings(hybrid_gate="always"))
    assert gate_open([a], None, None, ArmSettings(hybrid_gate="score", hybrid_min_score=0.5))
    assert not gate_open([b], None, None, ArmSettings(hybrid_gate="score", hybrid_min_score=0.5))
    with pytest.raises(ValueError, match="hybrid_gate"):
        ArmSettings(hybrid_gate="sometimes")  # type: ignore[arg-type]


def test_arms_rag_ceiling_exact(index: ChunkIndex) -> None:
    questions = ["Which port does the Orvik Relay listen on?", "Who owns Zarnik Pay?",
                 "What is the travel budget?", "What is the travel budget?"]
    golds = ["8443", ["Lena Brook"], "$1,800", "$1,800"]
    value, flags = rag_ceiling(questions, golds, index, principal_for,
                               ArmSettings(k=4), ["acme", "acme", "other", "acme"])
    # acme cannot read the other tenant's budget chunk: the last one is a miss.
    assert flags == [True, True, True, False]
    assert value == 0.75


def test_arms_access_and_errors(base_bundle: AnsweringModel, index: ChunkIndex) -> None:
    other = principal_for("other")
    assert [h.chunk_id for h in tenant_corpus(index, other)] == ["f1"]
    nobody = Principal(user="eve", groups=frozenset(), tenants=frozenset({"acme"}))
    got = answer_question("Who owns Zarnik Pay?", "rag", base_bundle, index, nobody, SETTINGS)
    assert got.citations == [] and not got.context_added
    with pytest.raises(ValueError, match="unknown arm"):
        answer_question("q?", "oracle", base_bundle, settings=SETTINGS)
    with pytest.raises(ValueError, match="needs an index"):
        answer_question("q?", "rag", base_bundle, settings=SETTINGS)
    with pytest.raises(ValueError, match="needs each question's tenant"):
        answer_questions(["q?"], "rag", base_bundle, index, principal_for, SETTINGS)
    # Closed-book arms never ask for a principal.
    assert answer_questions(["q?"], "base", base_bundle, index, principal_for, SETTINGS)


def test_arms_streamed_answer_equals_the_batched_one(compiled_bundle: AnsweringModel,
                                                     index: ChunkIndex) -> None:
    from answering import stream_question

    who = principal_for("acme")
    question = "Which port does the Orvik Relay listen on?"
    for arm in ("compiled", "rag"):
        whole = answer_question(question, arm, compiled_bundle, index, who, SETTINGS)
        reply, pieces = stream_question(question, arm, compiled_bundle, index, who, SETTINGS)
        streamed = "".join(pieces)
        assert streamed.strip() == whole.text == reply.text
        assert reply.citations == whole.citations and reply.latency_s > 0


def test_arms_one_model_reads_and_remembers(base_bundle: AnsweringModel,
                                            compiled_bundle: AnsweringModel) -> None:
    from evaluation.runner import bundles_for_arms

    arms = bundles_for_arms(base_bundle, compiled_bundle)
    assert {arm for arm, b in arms.items() if b is compiled_bundle} == {
        "compiled", "rag", "full_context", "hybrid"}
    assert arms["base"] is base_bundle
    assert all(b is base_bundle for b in bundles_for_arms(base_bundle).values())


def test_arms_full_context_respects_max_context_tokens(base_bundle: AnsweringModel,
                                                       index: ChunkIndex) -> None:
    capped = ArmSettings(k=2, max_new_tokens=4, max_context_tokens=60)
    got = answer_question("Which port?", "full_context", base_bundle, index,
                          principal_for("acme"), capped)
    assert got.prompt_tokens <= 60 and got.truncated


def test_arms_full_context_shares_one_prefill_and_answers_as_separate_prompts(
        compiled_bundle: AnsweringModel, index: ChunkIndex) -> None:
    from training.generate import answer as generate

    questions = ["Which port does the Orvik Relay listen on?", "Who owns Zarnik Pay?",
                 "What does error KX-19 mean?"]
    settings = ArmSettings(k=2, max_new_tokens=5, batch_size=2)
    got = answer_questions(questions, "full_context", compiled_bundle, index,
                           principal_for("acme"), settings)
    assert [a.question for a in got] == questions
    # The same passages shown to every question; each answer equals a prompt of its own.
    cited = {tuple(c["chunk_id"] for c in a.citations) for a in got}
    assert len(cited) == 1 and got[0].citations
    assert len({a.prefill_s for a in got}) == 1 and got[0].prefill_s > 0
    from answering import CorpusCache, fit_passages

    hits, lengths = CorpusCache().get(index, principal_for("acme"), compiled_bundle)
    longest = max(questions, key=lambda q: len(prompt_ids(compiled_bundle.tokenizer, q)))
    fitted = fit_passages(compiled_bundle, longest, hits, 5, lengths)
    alone = generate(compiled_bundle.model, compiled_bundle.tokenizer, questions,
                     [fitted.passages] * 3, max_new_tokens=5, batch_size=1)
    assert [a.text for a in got] == alone
