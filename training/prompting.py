"""The one prompt format: every stage (curriculum, SFT, GRPO, evaluation) builds prompts here.

Prompts are chat messages rendered by the tokenizer's chat template, never by string
concatenation, so training and inference see the same tokens. A model without a template (the
default MiniLM base) gets `CHAT_TEMPLATE` and its three special tokens from `prepare_tokenizer`:

    <|user|> Question: who owns zarnik pay? <|assistant|> lena brook<|end|>

- Closed-book question: the user turn is `Question: <question>`.
- Question with context: the user turn lists numbered passages, then the question:
  `Context:\\n[1] <passage>\\n[2] <passage>\\nQuestion: <question>`; the answer is followed by a
  citation marker naming the passage it came from, `lena brook [2]`, or is exactly
  `UNKNOWN_ANSWER` when no passage holds it. `training.answers.normalize_answer` drops markers.
- Study note (declarative text, continued-pretraining style): the user turn is the fixed
  `NOTE_PROMPT` and the note is the completion, so the loss covers the whole note and nothing
  else. A fixed prompt keeps notes apart from questions: the model never learns to answer a
  question with a paragraph.

SFT examples are trl "conversational prompt-completion" rows: `{"prompt": [user message],
"completion": [assistant message]}`; trl computes the loss on the completion only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

USER_TOKEN = "<|user|>"
ASSISTANT_TOKEN = "<|assistant|>"
END_TOKEN = "<|end|>"
CHAT_TOKENS = (USER_TOKEN, ASSISTANT_TOKEN, END_TOKEN)
# The prompt rendered alone is a token prefix of prompt + completion, which trl's completion mask
# relies on; the end token closes the assistant turn and is the generation stop token.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}" + USER_TOKEN + " {{ message['content'] }} "
    "{% elif message['role'] == 'assistant' %}" + ASSISTANT_TOKEN
    + " {{ message['content'] }}" + END_TOKEN + "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT_TOKEN + "{% endif %}"
)
UNKNOWN_ANSWER = "the context does not say"
NOTE_PROMPT = "Note:"

Message = dict[str, str]
Example = dict[str, Any]


@dataclass(frozen=True)
class QA:
    """A question, its short answer and, for reading comprehension, the passages shown with it.

    `cited` is the 1-based number of the passage holding the answer (None: closed-book, or the
    passages do not hold it and the answer is `UNKNOWN_ANSWER`).
    """

    question: str
    answer: str
    passages: tuple[str, ...] = ()
    cited: int | None = None


def as_qa(item: QA | Mapping[str, Any] | Sequence[str] | Any) -> QA:
    """Accept a `QA`, a mapping or an object with `question`/`answer`, or a (question, answer)."""
    if isinstance(item, QA):
        return item
    if isinstance(item, Mapping):
        return QA(str(item["question"]), str(item["answer"]),
                  tuple(item.get("passages") or ()), item.get("cited"))
    if isinstance(item, tuple | list) and len(item) == 2:
        return QA(str(item[0]), str(item[1]))
    if hasattr(item, "question") and hasattr(item, "answer"):
        return QA(str(item.question), str(item.answer))
    raise TypeError(f"not a question-answer pair: {item!r}")


def as_note(item: str | Mapping[str, Any] | Any) -> str:
    """Accept a note as text, a mapping with `text`, or an object with a `text` attribute."""
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        return str(item["text"])
    if hasattr(item, "text"):
        return str(item.text)
    raise TypeError(f"not a note: {item!r}")


def prepare_tokenizer(tokenizer: Any) -> int:
    """Give a tokenizer without a chat template ours; set pad and stop tokens, left padding.

    Returns how many tokens were added; `add_chat_tokens` also grows the model to match. A
    tokenizer that has its own chat template keeps it.
    """
    added = 0
    if not getattr(tokenizer, "chat_template", None):
        missing = [t for t in CHAT_TOKENS if t not in tokenizer.get_vocab()]
        if missing:
            added = tokenizer.add_special_tokens({"additional_special_tokens": missing})
        tokenizer.chat_template = CHAT_TEMPLATE
        tokenizer.eos_token = END_TOKEN
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return added


def init_new_token_embeddings(model: Any, n_old: int, seed: int = 0) -> None:
    """Give the rows added after `n_old` the per-dimension mean and spread of the old rows.

    `resize_token_embeddings` starts new rows near the mean embedding (norm ~0.1 against ~1.1
    for real tokens on MiniLM): with tied, frozen embeddings the end token then can never
    win the softmax and generation never stops. Rows drawn like real tokens can.
    """
    import torch

    weight = model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        old = weight[:n_old].float()
        noise = torch.randn((weight.shape[0] - n_old, weight.shape[1]), generator=generator)
        new = old.mean(0) + old.std(0) * noise
        weight[n_old:] = new.to(weight.dtype)


def add_chat_tokens(model: Any, tokenizer: Any, seed: int = 0) -> int:
    """`prepare_tokenizer`, then grow the model's embeddings for the tokens it added."""
    n_old = model.get_input_embeddings().weight.shape[0]
    added = prepare_tokenizer(tokenizer)
    if len(tokenizer) > n_old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        init_new_token_embeddings(model, n_old, seed)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return added


def format_context(passages: Sequence[str]) -> str:
    """Numbered passages, one a line: `[1] ...`."""
    return "\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(passages, start=1))


def user_message(question: str, passages: Sequence[str] | None = None) -> Message:
    """The user turn for a closed-book question, or for a question with context passages."""
    if passages:
        return {"role": "user",
                "content": f"Context:\n{format_context(passages)}\nQuestion: {question.strip()}"}
    return {"role": "user", "content": f"Question: {question.strip()}"}


def prompt_messages(question: str, passages: Sequence[str] | None = None) -> list[Message]:
    """The prompt (without the answer) as chat messages."""
    return [user_message(question, passages)]


def target_answer(qa: QA) -> str:
    """What the model should write: the answer, with a citation marker when it read it.

    >>> target_answer(QA("Who owns X?", "Lena Brook", ("a", "b"), cited=2))
    'Lena Brook [2]'
    >>> target_answer(QA("Who owns X?", "Lena Brook"))
    'Lena Brook'
    """
    if qa.passages and qa.cited is not None:
        return f"{qa.answer} [{qa.cited}]"
    return qa.answer


def sft_example(item: QA | Mapping[str, Any] | Sequence[str] | Any, kind: str = "qa") -> Example:
    """A trl prompt-completion row for a question (closed-book or with passages)."""
    qa = as_qa(item)
    return {"prompt": prompt_messages(qa.question, qa.passages),
            "completion": [{"role": "assistant", "content": target_answer(qa)}],
            "kind": kind}


def note_example(note: str | Mapping[str, Any] | Any, kind: str = "note") -> Example:
    """A trl prompt-completion row that teaches a declarative note (loss on the note only)."""
    return {"prompt": [{"role": "user", "content": NOTE_PROMPT}],
            "completion": [{"role": "assistant", "content": as_note(note).strip()}],
            "kind": kind}


def sft_examples(qas: Iterable[Any], notes: Iterable[Any] = ()) -> list[Example]:
    """Rows for question-answer pairs followed by rows for notes."""
    return [sft_example(q) for q in qas] + [note_example(n) for n in notes]


def render_prompt(tokenizer: Any, question: str, passages: Sequence[str] | None = None) -> str:
    """The prompt text the model sees, ending where the answer starts."""
    return tokenizer.apply_chat_template(prompt_messages(question, passages), tokenize=False,
                                         add_generation_prompt=True)


def prompt_ids(tokenizer: Any, question: str, passages: Sequence[str] | None = None) -> list[int]:
    """Token ids of the prompt, exactly as trl tokenizes it for training."""
    out = tokenizer.apply_chat_template(prompt_messages(question, passages), tokenize=True,
                                        add_generation_prompt=True, return_dict=True)
    return list(out["input_ids"])
