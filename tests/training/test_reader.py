"""kc-reader: span labels, span selection and abstention, the build and its cache."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    BertConfig,
    BertForQuestionAnswering,
    set_seed,
)

from training.base_model import minilm_path
from training.curriculum import Curriculum, CurriculumConfig
from training.prompting import UNKNOWN_ANSWER
from training.reader import (
    LAYOUTS,
    ExtractiveReader,
    ReaderConfig,
    ReadingExample,
    _batches,
    _features,
    build_reader,
    join_passages,
    reading_examples,
    render,
)


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)


@pytest.fixture(scope="module")
def curriculum() -> Curriculum:
    return Curriculum(CurriculumConfig(n_entities=16, eval_per_split=8))


def test_reader_layouts_state_every_shown_value(curriculum: Curriculum) -> None:
    entity = curriculum.reading_train[0]
    facts = list(entity.facts)
    for layout in LAYOUTS:
        text = render(entity, facts, layout, random.Random(0))
        assert entity.name in text
        assert all(f.value in text for f in facts), layout


def test_reader_span_labels_cover_exactly_the_answer(tok, curriculum: Curriculum) -> None:
    examples = reading_examples(curriculum, curriculum.reading_train, 60, 0.2, 3, "t")
    features = _features(tok, examples, max_length=384)
    labelled = 0
    for ex, feat in zip(examples, features, strict=True):
        s, e = feat["start_positions"], feat["end_positions"]
        if ex.passage is None:
            assert (s, e) == (0, 0)
            continue
        context, _ = join_passages(ex.passages)
        enc = tok(ex.question, context, truncation="only_second", max_length=384,
                  return_offsets_mapping=True)
        a, b = enc["offset_mapping"][s][0], enc["offset_mapping"][e][1]
        assert context[a:b] == ex.answer
        labelled += 1
    assert labelled >= 40


def test_reader_label_is_cls_when_truncation_cuts_the_answer(tok) -> None:
    filler = " ".join(["word"] * 200)
    ex = ReadingExample("What is the code of Zorp?", (filler + " The code of Zorp is ZX-42.",),
                        "ZX-42", 0)
    [feat] = _features(tok, [ex], max_length=64)
    assert (feat["start_positions"], feat["end_positions"]) == (0, 0)


def _reader_with_logits(tok, start: dict[int, float], end: dict[int, float],
                        null: float) -> ExtractiveReader:
    """A reader whose span head ignores the text: logits are fixed per position."""
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=8, num_hidden_layers=1,
                        num_attention_heads=1, intermediate_size=16,
                        max_position_embeddings=128)
    model = BertForQuestionAnswering(config)

    class Fixed(torch.nn.Module):
        def forward(self, hidden):
            n = hidden.shape[1]
            out = torch.full((hidden.shape[0], n, 2), -5.0)
            out[:, 0, :] = null / 2
            for i, v in start.items():
                out[:, i, 0] = v
            for i, v in end.items():
                out[:, i, 1] = v
            return out

    model.qa_outputs = Fixed()
    return ExtractiveReader(model, tok, max_answer_tokens=4)


def test_reader_picks_the_best_span_in_the_context(tok) -> None:
    question, passages = "Who owns Zorp?", ["Zorp is owned by Lena Brook.", "Other text."]
    enc = tok(question, join_passages(passages)[0], return_offsets_mapping=True)
    seq = enc.sequence_ids()
    first = seq.index(1)
    words = [i for i in range(first, len(seq)) if seq[i] == 1]
    lena = next(i for i in words if tok.convert_ids_to_tokens(enc["input_ids"][i]) == "lena")
    # The question's tokens score highest but are outside the context: never chosen.
    reader = _reader_with_logits(tok, {1: 50.0, lena: 9.0}, {1: 50.0, lena + 1: 9.0}, null=2.0)
    [reading] = reader.read([question], [passages])
    assert reading.text == "Lena Brook"
    assert reading.passage == 0
    assert reading.margin == pytest.approx(18.0 - 2.0)


def test_reader_abstains_when_no_answer_scores_higher(tok) -> None:
    reader = _reader_with_logits(tok, {}, {}, null=3.0)
    [reading] = reader.read(["Who owns Zorp?"], [["Nothing relevant here."]])
    assert reading.text == UNKNOWN_ANSWER and reading.passage is None and reading.margin < 0


def test_reader_respects_the_longest_span(tok) -> None:
    question, passages = "Q?", ["a b c d e f g h i j"]
    enc = tok(question, passages[0])
    first = enc.sequence_ids().index(1)
    # start at the first context token, end 6 tokens later: too long for max_answer_tokens=4.
    reader = _reader_with_logits(tok, {first: 9.0}, {first + 6: 9.0, first + 2: 1.0}, null=0.0)
    [reading] = reader.read([question], [passages])
    assert reading.text == "a b c"


def test_reader_builds_once_and_learns(tmp_path: Path) -> None:
    config = ReaderConfig.tiny()
    info = build_reader(config, tmp_path)
    assert info.built_now and (info.path / "config.json").exists()
    assert set(info.metrics) >= {"reading_exact_match", "unknown_abstained"}
    # The span loss on training examples, before (same seed, fresh head) and after the build.
    curriculum = Curriculum(config.curriculum)
    examples = reading_examples(curriculum, curriculum.reading_train + curriculum.taught,
                                config.n_examples, config.unknown_share, config.max_passages,
                                f"{config.seed}|train")[:16]
    tok = AutoTokenizer.from_pretrained(info.path, local_files_only=True)
    batch = next(_batches(_features(tok, examples, config.max_length), 16, tok.pad_token_id,
                          random.Random(0)))
    set_seed(config.seed)
    before = AutoModelForQuestionAnswering.from_pretrained(minilm_path(), local_files_only=True)
    after = AutoModelForQuestionAnswering.from_pretrained(info.path, local_files_only=True)
    with torch.no_grad():
        assert after.eval()(**batch).loss < 0.8 * before.eval()(**batch).loss
    again = build_reader(config, tmp_path)
    assert not again.built_now and again.metrics == info.metrics
    reader = ExtractiveReader.load(info.path)
    [reading] = reader.read(["What is the owner of Zorp?"],
                            [["Zorp is a service. The owner of Zorp is Lena Brook."]])
    assert isinstance(reading.text, str)
