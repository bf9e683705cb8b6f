"""Answer normalisation, prompt format, reading examples and the capacity helper."""

from __future__ import annotations

import pytest

from training.answers import cited_passages, exact_match, normalize_answer, token_f1
from training.capacity import bits_per_parameter
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

    from tests.training.test_base_support import smollm2_tokenizer_dir
    from training.prompting import SYSTEM_PROMPT, prepare_tokenizer, prompt_ids, render_prompt

    tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir())
    prepare_tokenizer(tok)
    head = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
    assert render_prompt(tok, "Who owns X?") == (
        head + "Who owns X?<|im_end|>\n<|im_start|>assistant\n")
    assert render_prompt(tok, "Who owns X?", ["X is owned by Bo.", "Y costs $5."]) == (
        head + "Documents:\n[1] X is owned by Bo.\n[2] Y costs $5.\n\nQuestion: Who owns X?"
        "<|im_end|>\n<|im_start|>assistant\n")
    ids = prompt_ids(tok, "Who owns X?")
    example = sft_example(("Who owns X?", "Bo"))
    full = tok.apply_chat_template(example["prompt"] + example["completion"], tokenize=True,
                                   return_dict=True)["input_ids"]
    assert full[:len(ids)] == ids  # the prompt is a token prefix: trl masks it exactly
    assert tok.decode(full[len(ids):]) == "Bo<|im_end|>\n"
    assert "SmolLM" not in tok.decode(full)  # the template's default system prompt is replaced


def test_model_plain_template_for_a_tokenizer_without_one() -> None:
    from transformers import AutoTokenizer

    from tests.training.test_base_support import smollm2_tokenizer_dir
    from training.prompting import PLAIN_TEMPLATE, prepare_tokenizer, render_prompt

    tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir())
    tok.chat_template = None
    n = len(tok)
    prepare_tokenizer(tok)
    assert tok.chat_template == PLAIN_TEMPLATE and len(tok) == n  # no tokens added
    assert render_prompt(tok, "Who owns X?").endswith("User: Who owns X?\nAssistant:")


def test_model_examples_and_notes() -> None:
    assert target_answer(QA("q", "8443", ("a", "b"), cited=2)) == "8443 [2]"
    assert sft_example(QA("q", UNKNOWN_ANSWER, ("a",)))["completion"][0]["content"] == (
        UNKNOWN_ANSWER)
    note = note_example("Zarnik Pay is owned by Lena Brook.")
    assert note["prompt"][-1] == {"role": "user", "content": NOTE_PROMPT}
    assert note["completion"][0]["content"] == "Zarnik Pay is owned by Lena Brook."
    assert user_message("q")["content"] == "q"


def test_model_reading_examples_mix_gold_distractors_and_abstentions() -> None:
    from training.reading import ReadingSettings, reading_examples

    pairs = [{"question": f"Q{i}?", "answer": f"ans{i}", "chunk_id": f"c{i}"} for i in range(40)]
    chunks = {f"c{i}": f"Passage {i} says ans{i}." for i in range(40)}
    got = reading_examples(pairs, chunks, ReadingSettings(share=0.5, distractors=2,
                                                          absent_share=0.25))
    assert len(got) == 20 and all(len(q.passages) == 3 for q in got)
    absent = [q for q in got if q.answer == UNKNOWN_ANSWER]
    assert 0 < len(absent) < 20 and all(q.cited is None for q in absent)
    for q in got:
        gold = f"Passage {q.question[1:-1]} says ans{q.question[1:-1]}."
        if q.answer == UNKNOWN_ANSWER:
            assert gold not in q.passages
        else:
            assert q.passages[q.cited - 1] == gold
    assert got == reading_examples(pairs, chunks, ReadingSettings(share=0.5, distractors=2,
                                                                  absent_share=0.25))


def test_model_short_answer_contains() -> None:
    from training.answers import short_answer_contains

    assert short_answer_contains("The capital of France is Paris.", ["Paris"]) == 1.0
    assert short_answer_contains("Parisian", ["Paris"]) == 0.0


