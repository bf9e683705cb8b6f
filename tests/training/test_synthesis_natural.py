"""Model-written questions: each check refuses what it should, the cache spares the writer, and
the kept questions join the train split beside the template questions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

from tests.training import synthesis_fixtures as fx
from training.synthesis import (
    NaturalPlan,
    NaturalQuestionConfig,
    check_natural_yield,
    synthesize_tenant,
)
from training.synthesis.models import Fact
from training.synthesis.natural import (
    fact_order,
    first_question,
    precheck,
    style_prompt,
    styles_for,
    write_natural_questions,
)

FACT = Fact(fact_id="f1", chunk_id="c1", document_id="d1", tenant="acme", kind="kv",
            subject="Vendor MapTiles Inc", relation="notice period", answer="90 days",
            evidence="Vendor Contracts Summary: Vendor MapTiles Inc; Notice: 90 days")


class AboutTheTopic:
    """A writer that asks about the fact line's topic (the text before its first colon)."""

    writer_id = "about-the-topic"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def write(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        self.prompts.extend(prompts)
        topics = [p.rsplit("Fact: ", 1)[1].split(":", 1)[0] for p in prompts]
        return [[f" What should I know about {t}?", f" Where is {t} described?"][:n]
                for t in topics]


class Scripted:
    """A writer that returns the same continuations for every prompt, and counts its calls."""

    writer_id = "scripted"

    def __init__(self, continuations: Sequence[str]) -> None:
        self.continuations = list(continuations)
        self.prompts: list[str] = []

    def write(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        self.prompts.extend(prompts)
        return [self.continuations[:n] for _ in prompts]


@pytest.mark.parametrize(("question", "reason"), [
    ("MapTiles", "malformed"),
    ("Is it 90 days of notice for MapTiles?", "answer_in_question"),
    ("What is the capital of Chile?", "off_topic"),
    ("How much notice do we owe MapTiles Inc?", "near_duplicate"),
    ("How long before cancelling must we tell MapTiles?", None),
])
def test_precheck_names_the_first_failed_check(question: str, reason: str | None) -> None:
    kept = ["How much notice do we owe MapTiles Inc?"]
    assert precheck(question, FACT, kept, threshold=0.7) == reason


def test_prompts_end_in_the_fact_and_reverse_only_for_names() -> None:
    prompt = style_prompt("direct", FACT)
    assert prompt.endswith("Fact: Vendor MapTiles Inc: notice period 90 days\n"
                           "Answer: 90 days\nQuestion:")
    assert "reverse" not in styles_for(FACT, ("direct", "reverse"))
    person = Fact(**{**FACT.__dict__, "answer": "Daniel Kim", "answer_type": "person"})
    assert styles_for(person, ("direct", "reverse")) == ["direct", "reverse"]
    assert first_question(" How long is it? Answer: 90\nQuestion: x") == "How long is it?"


def test_written_questions_are_checked_counted_and_cached(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    config = NaturalQuestionConfig(styles=("direct", "howto"), samples_per_style=3)
    writer = Scripted([" How long before cancelling must we tell MapTiles?\n\nFact: x",
                       " What is the capital of Chile?", " When does the MapTiles deal end?"])

    def reader(questions: Sequence[str], evidence: Sequence[str]) -> list[str]:
        return ["90 days" if "cancelling" in q else "2027" for q in questions]

    written, outcome = write_natural_questions(con, [(FACT, "sha1")], {}, writer, config, reader)
    assert [w.question for w in written] == ["How long before cancelling must we tell MapTiles?"]
    assert (outcome.proposed, outcome.kept, outcome.covered) == (6, 1, 1)
    assert outcome.dropped == {"off_topic": 2, "near_duplicate": 2, "unanswerable": 1}
    assert len(writer.prompts) == 2
    again, cached = write_natural_questions(con, [(FACT, "sha1")], {}, writer, config, reader)
    assert again == written and cached.cached_facts == 1 and len(writer.prompts) == 2
    changed = NaturalQuestionConfig(styles=("direct",), samples_per_style=3)
    write_natural_questions(con, [(FACT, "sha1")], {}, writer, changed, reader)
    assert len(writer.prompts) == 3  # another prompt version: written anew


def test_yield_check_fails_a_writer_that_keeps_almost_nothing() -> None:
    from training.synthesis import SynthesisReport

    noisy = SynthesisReport("acme", natural={"proposed": 200, "kept": 2, "facts": 30,
                                             "facts_with_questions": 2})
    passed, details = check_natural_yield(noisy, 0.05)
    assert not passed and "2/200" in details["message"]
    assert check_natural_yield(SynthesisReport("acme"), 0.05)[0]


def test_kept_questions_join_the_train_split_for_the_budgeted_facts(tmp_path: Path) -> None:
    con = fx.make_warehouse(str(tmp_path / "warehouse.duckdb"))
    writer = AboutTheTopic()
    plan = NaturalPlan(writer, NaturalQuestionConfig(styles=("direct",), samples_per_style=2,
                                                     verify_by_reading=False), max_facts=3)
    report = synthesize_tenant(con, "acme", tmp_path / "out", natural=plan)
    assert report.natural["facts"] == 3 and len(writer.prompts) == 3
    natural = con.execute("select fact_id, split, family from qa.pairs where family like "
                          "'natural%'").fetchall()
    assert natural and {(s, f) for _, s, f in natural} == {("train", "natural_direct")}
    train_facts = [r[0] for r in con.execute(
        "select distinct fact_id from qa.pairs where split = 'train' and family not like "
        "'natural%'").fetchall()]
    assert {r[0] for r in natural} <= set(fact_order(train_facts, 0)[:3])


def test_a_local_model_writes_n_continuations_per_prompt_and_reads_back() -> None:
    from tests.training.test_base_support import tiny_base
    from training.base_model import load_causal_lm
    from training.synthesis.writers import LocalQuestionWriter, local_reader

    model, tok = load_causal_lm(tiny_base())
    writer = LocalQuestionWriter(model, tok, "tiny", NaturalQuestionConfig(max_new_tokens=6))
    written = writer.write([style_prompt("direct", FACT), style_prompt("which", FACT)], 2)
    assert [len(texts) for texts in written] == [2, 2]
    assert all(isinstance(text, str) for texts in written for text in texts)
    assert writer.writer_id == "local:tiny"
    assert len(local_reader(model, tok)(["How long is the notice?"], [FACT.evidence])) == 1
