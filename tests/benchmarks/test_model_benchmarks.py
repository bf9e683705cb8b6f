"""The training and answering benchmarks' helpers, on a tiny random Llama (never SmolLM2)."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from benchmarks.answer_latency import (
    context_sizes,
    fill,
    measure,
    passages_of,
    shared_prefix,
    timed_answer,
)
from benchmarks.training_throughput import linear_module_names, qa_rows, upper_third
from training.generic import REPLAY_INSTRUCTIONS


def _tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


class WordTokenizer:
    """One token a word; a chat prompt is its messages' words plus 5 template tokens."""

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [len(w) for w in text.split()]}

    def apply_chat_template(self, messages, tokenize, add_generation_prompt, return_dict):
        words = " ".join(m["content"] for m in messages).split()
        return {"input_ids": [len(w) % 60 for w in words] + [1, 2, 3, 4, 5]}


def test_every_replay_instruction_has_a_short_answer_row():
    rows = qa_rows(len(REPLAY_INSTRUCTIONS) + 3)
    assert len(rows) == len(REPLAY_INSTRUCTIONS) + 3
    assert [r["prompt"][-1]["content"] for r in rows[:len(REPLAY_INSTRUCTIONS)]] == list(
        REPLAY_INSTRUCTIONS)
    assert all(0 < len(r["completion"][0]["content"].split()) <= 4 for r in rows)
    assert rows[len(REPLAY_INSTRUCTIONS)] == rows[0]


def test_upper_third_and_linear_modules():
    assert upper_third(30) == list(range(20, 30))
    assert upper_third(2) == [1]
    assert linear_module_names(_tiny_llama()) == [
        "down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]


def test_context_sizes_end_with_the_largest_prompt_that_fits():
    assert context_sizes(8192) == [("~1k", 1024), ("~4k", 4096), ("largest that fits", 8176)]
    assert context_sizes(2048) == [("~1k", 1024), ("largest that fits", 2032)]


def test_fill_takes_the_most_passages_that_fit():
    tok = WordTokenizer()
    passages = passages_of(tok, [f"w{i} " * 7 for i in range(40)], target=20)
    assert {len(p.split()) for p in passages} == {21}
    # System prompt (6 words), "Documents:", "Question:", the question (3), 5 template tokens:
    # 16; each passage 21 words and its "[n]": 3 whole passages make 82 tokens.
    ids = fill(tok, "what is it", passages, 100)
    assert len(ids) == 100  # 3 whole passages, then "[4]" and 17 words of the fourth
    assert fill(tok, "what is it", passages, 82) == tok.apply_chat_template(
        [{"content": "Answer with the short answer only."},
         {"content": "Documents:\n" + "\n".join(f"[{i}] {p}" for i, p in
                                               enumerate(passages[:3], 1))
                     + "\n\nQuestion: what is it"}], True, True, True)["input_ids"]
    with pytest.raises(RuntimeError):
        fill(tok, "q", passages[:2], 1000)


def test_timed_answer_is_greedy_generate_written_out():
    model = _tiny_llama()
    model.generation_config.eos_token_id = None
    ids = [3, 14, 15, 9, 26, 5, 35]
    whole = timed_answer(model, ids, new_tokens=16)
    expected = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=16,
                              pad_token_id=0)[0, len(ids):].tolist()
    assert whole.tokens == expected and len(expected) == 16
    assert whole.prefill_s > 0 and whole.generation_s > 0 and whole.prefix is None
    # Prefilled in two calls, and again from the kept prefix cache: the same answer each time.
    split = timed_answer(model, ids, new_tokens=16, split=4)
    assert split.tokens == expected and split.prefix.get_seq_length() == 4
    again = timed_answer(model, ids, new_tokens=16, split=4, prefix=split.prefix)
    assert again.tokens == expected and split.prefix.get_seq_length() == 4


def test_measure_reports_the_shared_prefix_answer():
    model = _tiny_llama()
    result = measure(model, [3, 14, 15, 9, 26, 5, 35], repeat=2, split=5)
    assert result["prompt_tokens"] == 7 and result["repeat"] == 2
    assert result["shared"]["prefix_tokens"] == 5 and result["shared"]["same_answer"]
    assert result["total_s"] == result["prefill_s"] + result["generation_s"]
    assert shared_prefix([1, 2, 3, 4], [1, 2, 5]) == 2 and shared_prefix([1, 2], [1, 2, 3]) == 2
