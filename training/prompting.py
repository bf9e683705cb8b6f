"""The one prompt format: every stage (SFT, GRPO, evaluation, `kc ask`, `kc serve`) builds
prompts here.

Prompts are chat messages rendered by the tokenizer's own chat template (SmolLM2's ChatML),
never by string concatenation, so training and inference see the same tokens. Every prompt
starts with the same short `SYSTEM_PROMPT`.

- Closed-book question: the user turn is the question alone.
- Question with documents: the user turn lists numbered passages, then the question:
  `Documents:\n[1] <passage>\n[2] <passage>\n\nQuestion: <question>`; the answer is followed
  by a citation marker naming the passage it came from, `lena brook [2]`, or is exactly
  `UNKNOWN_ANSWER` when no passage holds it. `training.answers.normalize_answer` drops markers.
- Study note (declarative text, continued-pretraining style): the user turn is the fixed
  `NOTE_PROMPT` and the note is the completion, so the loss covers the whole note and nothing
  else. A fixed prompt keeps notes apart from questions: the model never learns to answer a
  question with a paragraph.

SFT examples are trl "conversational prompt-completion" rows: `{"prompt": [system, user],
"completion": [assistant message]}`; trl computes the loss on the completion only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# One short system message in training and answering alike: without it SmolLM2's template
# inserts its own default ("You are a helpful AI assistant named SmolLM..."), about half the
# tokens of a short training example.
SYSTEM_PROMPT = "Answer with the short answer only."
# For a tokenizer without a chat template: plain text turns closed by its end-of-text token.
# The prompt rendered alone is a prefix of prompt + completion, which trl's completion mask needs.
PLAIN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
UNKNOWN_ANSWER = "not in the documents"
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


def prepare_tokenizer(tokenizer: Any) -> None:
    """Pad on the left with the end-of-turn token; a tokenizer without a chat template gets
    `PLAIN_TEMPLATE` (no tokens are added, so the model's embeddings stay as they are)."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = PLAIN_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"


def format_context(passages: Sequence[str]) -> str:
    """Numbered passages, one a line: `[1] ...`."""
    return "\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(passages, start=1))


def user_message(question: str, passages: Sequence[str] | None = None) -> Message:
    """The user turn for a closed-book question, or for a question with context passages."""
    if passages:
        return {"role": "user", "content": f"Documents:\n{format_context(passages)}\n\n"
                                           f"Question: {question.strip()}"}
    return {"role": "user", "content": question.strip()}


def prompt_messages(question: str, passages: Sequence[str] | None = None) -> list[Message]:
    """The prompt (without the answer) as chat messages: the system message, then the user's."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, user_message(question, passages)]


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
    return {"prompt": [{"role": "system", "content": SYSTEM_PROMPT},
                       {"role": "user", "content": NOTE_PROMPT}],
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
