"""General ability the adapters must keep: replay rows and the forgetting question set.

- Replay: the base model's own answers to fixed generic instructions, generated once per base
  (greedy, cached beside the base folder), mixed into every SFT run. Training on what the base
  already says costs it nothing and holds the weights near the base's behaviour on general
  text (replay of even 1 % general data limits forgetting; see ANCHORS.md).
- Forgetting: fixed generic questions with short gold answers. Only the questions the base
  answers correctly count (`known_questions`); an adapter's forgetting is the share of those it
  no longer answers (0.0 = nothing forgotten).

Neither set has anything to do with a user's corpus, and neither is ever trained on as QA:
the forgetting questions are not among the replay instructions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.answers import short_answer_contains
from training.prompting import prompt_messages

REPLAY_VERSION = 1
REPLAY_INSTRUCTIONS = (
    "Name a primary colour.",
    "What is the opposite of hot?",
    "Give a synonym for happy.",
    "What do bees make?",
    "What is the plural of mouse?",
    "Which animal is known as man's best friend?",
    "What gas do plants take in from the air?",
    "How many legs does a spider have?",
    "What is the freezing point of water in Celsius?",
    "What is the largest ocean on Earth?",
    "Which planet is known as the Red Planet?",
    "What is the past tense of run?",
    "What language is spoken in Brazil?",
    "What is the main ingredient of guacamole?",
    "What do you call a baby cat?",
    "What shape has three sides?",
    "What is 7 times 8?",
    "What is the square root of 81?",
    "Which metal is liquid at room temperature?",
    "Who wrote Romeo and Juliet?",
    "What is the chemical symbol for gold?",
    "What is the capital of Japan?",
    "Which continent is Egypt in?",
    "What is the boiling point of water in Celsius?",
    "What does a thermometer measure?",
    "What is the longest river in Africa?",
    "Which organ pumps blood through the body?",
    "How many minutes are in an hour?",
    "What is the first letter of the Greek alphabet?",
    "What do caterpillars turn into?",
    "What is the currency of the United Kingdom?",
    "What is H2O commonly called?",
    "Which season comes after spring?",
    "What is the tallest animal?",
    "How many sides does a hexagon have?",
    "What is the opposite of north?",
    "Which instrument has black and white keys?",
    "What is the capital of Italy?",
    "What is the largest planet in the solar system?",
    "What do you call frozen water?",
)
FORGETTING_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What is the capital of France?", ("Paris",)),
    ("What is the capital of Germany?", ("Berlin",)),
    ("What is the capital of Spain?", ("Madrid",)),
    ("What is the capital of England?", ("London",)),
    ("What is the capital of Russia?", ("Moscow",)),
    ("What is the capital of China?", ("Beijing",)),
    ("What is the capital of Canada?", ("Ottawa",)),
    ("What is the capital of Egypt?", ("Cairo",)),
    ("How many days are in a week?", ("7", "seven")),
    ("How many months are in a year?", ("12", "twelve")),
    ("How many hours are in a day?", ("24", "twenty-four")),
    ("What is 2 plus 2?", ("4", "four")),
    ("What is 10 minus 3?", ("7", "seven")),
    ("What is 5 times 5?", ("25", "twenty-five")),
    ("What colour is the sky on a clear day?", ("blue",)),
    ("What colour is grass?", ("green",)),
    ("Which planet do we live on?", ("Earth",)),
    ("What is the closest star to Earth?", ("the Sun", "Sun")),
    ("What do cows drink?", ("water",)),
    ("What is the opposite of up?", ("down",)),
    ("What is the opposite of day?", ("night",)),
    ("What is the chemical symbol for water?", ("H2O",)),
    ("Who painted the Mona Lisa?", ("Leonardo da Vinci", "da Vinci", "Leonardo")),
    ("What is the largest mammal?", ("blue whale", "the blue whale")),
    ("How many continents are there?", ("7", "seven")),
    ("What language is spoken in France?", ("French",)),
    ("What language is spoken in Germany?", ("German",)),
    ("What is the fastest land animal?", ("cheetah", "the cheetah")),
    ("What is the largest country by area?", ("Russia",)),
    ("What do plants need from the sun to grow?", ("light", "sunlight")),
)


def replay_cache_path(base_path: str | Path) -> Path:
    """Beside the base folder (not inside it: the folder's hash is the base's identity)."""
    base = Path(base_path)
    return base.with_name(f"{base.name}.replay-v{REPLAY_VERSION}.jsonl")


def base_replay(base_path: str | Path, max_new_tokens: int = 32,
                batch_size: int = 8) -> list[dict[str, Any]]:
    """Prompt-completion rows of the base's own greedy answers, generated once and cached."""
    cache = replay_cache_path(base_path)
    if cache.exists():
        return [json.loads(line) for line in cache.read_text().splitlines() if line.strip()]
    from training.base_model import load_causal_lm
    from training.generate import answer

    model, tok = load_causal_lm(base_path)
    texts = answer(model, tok, list(REPLAY_INSTRUCTIONS), max_new_tokens=max_new_tokens,
                   batch_size=batch_size)
    rows = [{"prompt": prompt_messages(q), "completion": [{"role": "assistant", "content": a}]}
            for q, a in zip(REPLAY_INSTRUCTIONS, texts, strict=True) if a]
    tmp = cache.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(cache)
    return rows


def forgetting_answers(model: Any, tok: Any, max_new_tokens: int = 12) -> list[str]:
    """The model's answers to `FORGETTING_QUESTIONS`, in order."""
    from training.generate import answer

    return answer(model, tok, [q for q, _ in FORGETTING_QUESTIONS],
                  max_new_tokens=max_new_tokens)


def known_questions(base_answers: Sequence[str]) -> list[int]:
    """Indexes of the forgetting questions the base answers correctly (the gold in an answer of
    at most 12 words: an instruct model answers in a sentence)."""
    return [i for i, (text, (_, golds)) in enumerate(zip(base_answers, FORGETTING_QUESTIONS,
                                                         strict=True))
            if short_answer_contains(text, golds)]


def forgetting(base_answers: Sequence[str], adapter_answers: Sequence[str]) -> dict[str, Any]:
    """How much of what the base knew the adapter lost: `{"known", "kept", "forgetting"}`."""
    known = known_questions(base_answers)
    kept = sum(short_answer_contains(adapter_answers[i], FORGETTING_QUESTIONS[i][1])
               for i in known)
    return {"known": len(known), "kept": int(kept),
            "forgetting": (1 - kept / len(known)) if known else None}
