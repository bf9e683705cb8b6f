"""Answer normalisation, prompt format, curriculum splits and the capacity helper."""

from __future__ import annotations

import re

import pytest

from training.answers import cited_passages, exact_match, normalize_answer, token_f1
from training.capacity import bits_per_parameter
from training.curriculum import (
    GENERIC_QUESTIONS,
    HELDOUT_GENERIC,
    Curriculum,
    CurriculumConfig,
    teaching_set,
)
from training.invented import invent_world
from training.prompting import (
    NOTE_PROMPT,
    QA,
    UNKNOWN_ANSWER,
    note_example,
    sft_example,
    target_answer,
    user_message,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("Lena O'Brook", "lena o'brook"),
    ("lena o ' brook", "lena o'brook"),
    ("$1,800 per year.", "$1800 per year"),
    ("$ 1, 800 per year", "$1800 per year"),
    ("ZX-42b", "zx-42b"),
    ("zx - 42b", "zx-42b"),
    ("3. 5 %", "3.5%"),
    ("The Orbit Gateway [2].", "orbit gateway"),
    ("An  apple,  a pear", "apple pear"),
    ("José Núñez", "jose nunez"),
    ("March 5, 2024", "march 5 2024"),
    ("eu-west-2", "eu-west-2"),
    ("09:30", "09:30"),
])
def test_model_normalize_answer_exact_values(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_model_exact_match_and_f1_exact_values() -> None:
    assert exact_match("lena o ' brook [1]", "Lena O'Brook") == 1.0
    assert exact_match("lena brook", ["Lena O'Brook", "Lena Brook"]) == 1.0
    assert exact_match("$1,900", "$1,800") == 0.0
    assert token_f1("port 8443 on eu-west", "8443") == 0.4
    assert token_f1("lena smith", "Lena O'Brook") == 0.5
    assert token_f1("", "8443") == 0.0
    assert token_f1("", "") == 1.0
    assert cited_passages("8443 [2] and [3]") == [2, 3]
    with pytest.raises(ValueError, match="no gold"):
        exact_match("x", [])


def test_model_capacity_bits_per_parameter() -> None:
    assert bits_per_parameter(100, 20.0, 1000) == 2.0
    assert bits_per_parameter(0, 20.0, 10) == 0.0
    with pytest.raises(ValueError, match="positive"):
        bits_per_parameter(1, 1.0, 0)


def test_model_prompt_format_renders_through_chat_template() -> None:
    from transformers import AutoTokenizer

    from training.base_model import minilm_path
    from training.prompting import prepare_tokenizer, prompt_ids, render_prompt

    tok = AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)
    assert prepare_tokenizer(tok) == 3
    assert render_prompt(tok, "Who owns X?") == "<|user|> Question: Who owns X? <|assistant|>"
    assert render_prompt(tok, "Who owns X?", ["X is owned by Bo.", "Y costs $5."]) == (
        "<|user|> Context:\n[1] X is owned by Bo.\n[2] Y costs $5.\nQuestion: Who owns X? "
        "<|assistant|>")
    ids = prompt_ids(tok, "Who owns X?")
    full = tok.apply_chat_template(
        sft_example(("Who owns X?", "Bo"))["prompt"] + sft_example(("Who owns X?", "Bo"))[
            "completion"], tokenize=True, return_dict=True)["input_ids"]
    assert full[:len(ids)] == ids  # the prompt is a token prefix: trl masks it exactly
    assert tok.convert_ids_to_tokens(full[len(ids):]) == ["bo", "<|end|>"]
    assert tok.cls_token_id not in full and tok.sep_token_id not in full


def test_model_examples_and_notes() -> None:
    assert target_answer(QA("q", "8443", ("a", "b"), cited=2)) == "8443 [2]"
    assert sft_example(QA("q", UNKNOWN_ANSWER, ("a",)))["completion"][0]["content"] == (
        UNKNOWN_ANSWER)
    note = note_example("Zarnik Pay is owned by Lena Brook.")
    assert note["prompt"] == [{"role": "user", "content": NOTE_PROMPT}]
    assert note["completion"][0]["content"] == "Zarnik Pay is owned by Lena Brook."
    assert user_message("q")["content"] == "Question: q"


def test_model_curriculum_is_deterministic_and_splits_hold() -> None:
    config = CurriculumConfig(n_entities=20, epochs=3, reading_from_epoch=2,
                              reading_per_epoch=200, unknown_share=0.1)
    a, b = Curriculum(config), Curriculum(config)
    assert a.epoch(2) == b.epoch(2)
    assert a.evaluation_sets() == b.evaluation_sets()
    epochs = a.epochs()
    questions = [r["prompt"][0]["content"] for e in epochs for r in e if r["kind"] == "qa"]
    texts = " ".join(r["prompt"][0]["content"] + r["completion"][0]["content"]
                     for e in epochs for r in e if r["kind"] in ("qa", "note"))
    # held-out generic templates never train
    for template in HELDOUT_GENERIC:
        pattern = re.compile("Question: " + re.escape(template).replace(r"\{s\}", ".+")
                             .replace(r"\{noun\}", ".+") + "$")
        assert not any(pattern.match(q) for q in questions), template
    evals = a.evaluation_sets()
    heldout_patterns = [re.compile(re.escape(t).replace(r"\{s\}", ".+")
                                   .replace(r"\{noun\}", ".+") + "$") for t in HELDOUT_GENERIC]
    assert any(p.match(q.question) for p in heldout_patterns for q in evals["heldout_templates"])
    assert not {f"Question: {q.question}" for q in evals["heldout_templates"]} & set(questions)
    # notes-only entities are never asked in training; reading entities are never taught
    for entity in a.notes_only:
        assert not any(entity.name in q for q in questions)
    for entity in a.reading_eval:
        assert entity.name not in texts
    # reading starts with one passage, unknowns stay under the cap
    first_reading = [r for r in epochs[1] if r["kind"] in ("reading", "unknown")]
    assert first_reading and all(r["prompt"][0]["content"].count("\n[") == 1
                                 for r in first_reading)
    assert not any(r["kind"] == "unknown" for r in epochs[1])
    later = [r for r in epochs[2] if r["kind"] in ("reading", "unknown")]
    unknown = sum(r["kind"] == "unknown" for r in later) / len(later)
    assert 0 < unknown <= 0.15
    assert len(GENERIC_QUESTIONS) - len(HELDOUT_GENERIC) == 9


def test_model_curriculum_rejects_too_many_unknowns() -> None:
    with pytest.raises(ValueError, match="unknown_share"):
        CurriculumConfig(unknown_share=0.25)


def test_model_teaching_set_for_new_entities() -> None:
    base = Curriculum(CurriculumConfig(n_entities=20))
    world = invent_world(seed=7, n_entities=10, exclude=base.entity_names)
    assert not {e.name.lower() for e in world.entities} & base.entity_names
    qas, notes, heldout = teaching_set(world.entities, 5, 3, seed=1)
    n_facts = sum(len(e.facts) for e in world.entities)
    assert (len(qas), len(notes), len(heldout)) == (5 * n_facts, 3 * n_facts, n_facts)
    assert not {q.question for q in heldout} & {q.question for q in qas}
