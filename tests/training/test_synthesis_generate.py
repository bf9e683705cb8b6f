"""The offline generator: paraphrase counts, held-out families, notes, determinism."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.training import synthesis_fixtures as fx
from training.synthesis.config import SynthesisConfig
from training.synthesis.generator import Generator, OfflineGenerator
from training.synthesis.models import Chunk, ChunkSynthesis
from training.synthesis.normalize import answer_tokens, contains_tokens, normalize_question
from training.synthesis.templates import all_heldout_families, all_train_families

CHUNKS = [
    Chunk("c1", "d1", "acme", fx.HANDBOOK_SECURITY, section="Handbook > Security",
          path="handbook/handbook.md"),
    Chunk("c2", "d1", "acme", fx.HANDBOOK_TIME_OFF, section="Handbook > Time off",
          path="handbook/handbook.md"),
    Chunk("c3", "d2", "acme", fx.CONSTANTS_PY, section="billing/constants.py",
          path="billing/constants.py"),
    Chunk("c4", "d3", "acme", "Invoices are issued on the 1st of each month.",
          section="Billing FAQ > When are invoices sent?", path="faq.md"),
    Chunk("c5", "d4", "acme", "Aisha Bello: rotate the webhook signing secrets by Friday.",
          section="Sync > Action items", path="sync.md"),
]


@pytest.fixture(scope="module")
def results() -> list[ChunkSynthesis]:
    generator = OfflineGenerator(SynthesisConfig())
    return [generator.generate(chunk) for chunk in CHUNKS]


def test_every_fact_gets_five_paraphrases_a_heldout_form_and_three_notes(results) -> None:
    kinds = set()
    for result in results:
        assert result.facts and not result.failures
        for fact in result.facts:
            kinds.add(fact.kind)
            pairs = [p for p in result.pairs if p.fact_id == fact.fact_id]
            train = [p for p in pairs if not p.heldout]
            heldout = [p for p in pairs if p.heldout]
            notes = [n for n in result.notes if n.fact_id == fact.fact_id]
            assert len(train) >= 5, (fact, [p.question for p in train])
            assert len(heldout) >= 1, fact
            assert len(notes) >= 3, fact
            assert len({normalize_question(p.question) for p in pairs}) == len(pairs)
            assert all(p.answer == fact.answer for p in pairs)
            assert all(not contains_tokens(answer_tokens(p.question), answer_tokens(fact.answer))
                       for p in pairs)
            assert all(fact.answer in n.text for n in notes), notes
    assert kinds >= {"sentence", "key_value", "table_cell", "table_lookup", "constant",
                     "code_purpose", "faq", "assignment"}


def test_heldout_families_never_appear_in_training(results) -> None:
    train_families = {p.family for r in results for p in r.pairs if not p.heldout}
    heldout_families = {p.family for r in results for p in r.pairs if p.heldout}
    assert train_families <= all_train_families()
    assert heldout_families <= all_heldout_families()
    assert not all_train_families() & all_heldout_families()


def test_pairs_keep_their_source_and_generation_is_deterministic(results) -> None:
    again = OfflineGenerator(SynthesisConfig()).generate(CHUNKS[0])
    assert again.to_payload() == results[0].to_payload()
    pair = results[0].pairs[0]
    assert (pair.chunk_id, pair.document_id, pair.path) == ("c1", "d1", "handbook/handbook.md")
    other_seed = OfflineGenerator(SynthesisConfig(seed=7)).generate(CHUNKS[0])
    assert {p.question for p in other_seed.pairs} != {p.question for p in results[0].pairs}


def test_short_clauses_are_always_asked_with_their_document() -> None:
    chunk = Chunk("c9", "d9", "acme", "Last reviewed 2026-06-01.", section="API Error Codes",
                  path="reference/error-codes.html")
    result = OfflineGenerator().generate(chunk)
    assert [f.answer for f in result.facts] == ["2026-06-01"]
    assert sum(not p.heldout for p in result.pairs) == 6
    for pair in result.pairs:
        assert "error codes" in pair.question.lower(), pair.question


def test_counts_follow_the_config() -> None:
    config = SynthesisConfig(paraphrases_per_fact=5, heldout_families=1, notes_per_fact=3)
    result = OfflineGenerator(config).generate(CHUNKS[1])
    fact = result.facts[0]
    assert sum(1 for p in result.pairs if p.fact_id == fact.fact_id and not p.heldout) == 5
    assert sum(1 for p in result.pairs if p.fact_id == fact.fact_id and p.heldout) == 1
    assert sum(1 for n in result.notes if n.fact_id == fact.fact_id) == 3


def test_offline_generator_satisfies_the_protocol() -> None:
    assert isinstance(OfflineGenerator(), Generator)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("paraphrases_per_fact", 4, "paraphrases_per_fact must be at least 5"),
    ("heldout_families", 0, "heldout_families must be at least 1"),
    ("notes_per_fact", 2, "notes_per_fact must be at least 3"),
    ("max_drop_share", 1.5, "max_drop_share must be within [0, 1]"),
    ("max_pairs_per_chunk", 3, "max_pairs_per_chunk must hold at least one fact's pairs"),
])
def test_config_validation(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SynthesisConfig(**{field: value})


@pytest.mark.parametrize("module", ["extract", "generator", "normalize", "report", "spans"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"training.synthesis.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
