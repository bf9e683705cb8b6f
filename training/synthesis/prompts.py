"""Versioned teacher prompts. Change the text -> bump PROMPT_VERSION (it keys the cache)."""

from __future__ import annotations

from training.synthesis.config import SynthesisConfig
from training.synthesis.models import Chunk

PROMPT_VERSION = "qa-v1"

SYSTEM_PROMPT = """You turn one passage of an organisation's documents into training data for a
small model that must answer questions about it without seeing the passage. Be exact: every
answer is copied from the passage, short (a name, number, date, code or short phrase), and
never taken from text shown as [REDACTED...], [EMAIL] or [PHONE]. Reply with JSON only."""

USER_TEMPLATE = """Document: {path}
Section: {section}

Passage:
<<<
{text}
>>>

List up to {max_facts} facts stated in the passage. For each fact give:
- "subject": what the fact is about,
- "relation": which property of the subject it gives,
- "answer": the short answer, copied exactly from the passage (at most 12 words),
- "evidence": the sentence or table row it comes from, copied from the passage,
- "questions": {n_train} questions asking for the answer, each worded differently (vary word
  order, synonyms, possessives, imperatives such as "Name the ...", with and without naming
  the document or section),
- "heldout_questions": {n_heldout} more questions worded unlike all of the above,
- "notes": {n_notes} sentences restating the fact in different words.
No question may contain its answer. Reply as {{"facts": [...]}}."""


def build_messages(chunk: Chunk, config: SynthesisConfig, max_facts: int
                   ) -> list[dict[str, str]]:
    user = USER_TEMPLATE.format(path=chunk.path or "(unknown)",
                                section=chunk.section or "(none)", text=chunk.text,
                                max_facts=max_facts, n_train=config.paraphrases_per_fact,
                                n_heldout=config.heldout_families, n_notes=config.notes_per_fact)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
