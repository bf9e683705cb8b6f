"""Question and study-note templates for the offline generator.

Templates come in *families* (an id and a text). Each frame (attribute, cloze, definition,
faq, assignment) has training families and held-out families; a held-out family is never used
for training, so evaluation asks in wordings the model has not seen. Templates vary word order,
possessives, imperatives, synonyms and whether the document or section is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from training.synthesis.builder import document_name
from training.synthesis.models import Fact
from training.synthesis.normalize import lower_first, normalize_question, upper_first
from training.synthesis.prose import echo_question, render_statement

Template = tuple[str, str]  # (family id, text)

FRAME_OF_KIND = {"sentence": "cloze", "faq": "faq", "definition": "definition",
                 "code_purpose": "definition", "assignment": "assignment"}

TRAIN: dict[str, list[Template]] = {
    "attribute": [
        ("attr.what_of", "What is the {rel} of {subject}?"),
        ("attr.possessive", "What is {subject_pos} {rel}?"),
        ("attr.wh_of", "{Whq} is the {rel} of {subject}?"),
        ("attr.name_the", "Name the {rel} of {subject}."),
        ("attr.tell_me", "Tell me the {rel} for {subject}."),
        ("attr.for_subject", "For {subject}, what is the {rel}?"),
        ("attr.in_where", "In {where}, what is the {rel} of {subject}?"),
        ("attr.where_gives", "What {rel} does {where} give for {subject}?"),
        ("attr.colon", "{Subject}: what is the {rel}?"),
        ("attr.give_listed", "Give the {rel} listed for {subject}."),
        ("attr.which_has", "Which {rel} does {subject} have?"),
        ("attr.state_according", "State the {rel} of {subject} according to {doc}."),
        ("attr.synonym", "What is the {rel_syn} of {subject}?"),
    ],
    "cloze": [
        ("cloze.echo", "{echo}"),
        ("cloze.fronted", "{fronted}"),
        ("cloze.according", "According to {where}, {echo_lower}"),
        ("cloze.fill_blank", "Fill in the blank: {blank}."),
        ("cloze.complete_doc", 'Complete the sentence from {doc}: "{blank}"'),
        ("cloze.wh_then_blank", "{Wh}? ({blank})"),
        ("cloze.in_where", "In {where}: {echo_lower}"),
        ("cloze.which_value", "Which value completes this statement: {blank}?"),
        ("cloze.missing", 'What is missing here: "{blank}"?'),
        ("cloze.doc_says", '{Doc} says: "{blank}". What goes in the blank?'),
        ("cloze.in_doc", "In {doc}, {echo_lower}"),
        ("cloze.where_blank", "{Where}: {blank} - fill in the blank."),
        ("cloze.doc_gives", 'What does {doc} give for "{blank}"?'),
    ],
    "definition": [
        ("def.what_of", "What is the {rel} of {subject}?"),
        ("def.question", "{question}"),
        ("def.describe", "Describe the {rel} of {subject}."),
        ("def.explain", "Explain {subject}."),
        ("def.where_says", "What does {where} say about {subject}?"),
        ("def.summarize", "Summarize the {rel} of {subject} in one sentence."),
        ("def.in_where", "In {where}, what is {subject}?"),
        ("def.its", "{Subject} - what is its {rel}?"),
    ],
    "faq": [
        ("faq.question", "{question}"),
        ("faq.from_where", "{question} (from {where})"),
        ("faq.according", "According to {doc}: {question_lower}"),
        ("faq.answer_from", "Answer from {doc}: {question}"),
        ("faq.prefixed", "FAQ: {question}"),
        ("faq.give_answer", "{question} Give the answer from {doc}."),
    ],
    "assignment": [
        ("asg.responsible", 'Who is responsible for the task "{subject}"?'),
        ("asg.who_must", "Who must {subject}?"),
        ("asg.name_person", "Name the person who has to {subject}."),
        ("asg.owns_item", "Which person owns the action item to {subject}?"),
        ("asg.in_where", "In {where}, who was assigned to {subject}?"),
        ("asg.took", "Who took the action item: {subject}?"),
    ],
}

HELDOUT: dict[str, list[Template]] = {
    "attribute": [
        ("attr.ho.could_you", "Could you tell me what the {rel} of {subject} is?"),
        ("attr.ho.looking_for", "I am looking for the {rel} of {subject}; what is it?"),
        ("attr.ho.where_lists", "What does {where} list as the {rel} for {subject}?"),
    ],
    "cloze": [
        ("cloze.ho.quick", "Quick question about {doc}: {echo_lower}"),
        ("cloze.ho.based_on", "Based on {where}, answer this: {echo_lower}"),
        ("cloze.ho.source", "{fronted_or_echo} (source: {doc})"),
    ],
    "definition": [
        ("def.ho.briefly", "Briefly, what is {subject} about?"),
        ("def.ho.could_you", "Could you explain the {rel} of {subject}?"),
    ],
    "faq": [
        ("faq.ho.here_is", "Here is a question about {doc}: {question}"),
        ("faq.ho.per_where", "Per {where}, {question_lower}"),
    ],
    "assignment": [
        ("asg.ho.whose", "Whose action item is it to {subject}?"),
        ("asg.ho.tell_me", "Tell me who will {subject}."),
    ],
}

NOTES: dict[str, list[Template]] = {
    "attribute": [
        ("note.attr.plain", "The {rel} of {subject} is {answer}."),
        ("note.attr.possessive", "{Subject_pos} {rel} is {answer}."),
        ("note.attr.inverted", "{Answer} is the {rel} for {subject}."),
        ("note.attr.according", "According to {where}, the {rel} of {subject} is {answer}."),
        ("note.attr.lists", "{Where} lists {answer} as the {rel} of {subject}."),
    ],
    "cloze": [
        ("note.cloze.plain", "{Filled}."),
        ("note.cloze.according", "According to {where}, {filled_lower}."),
        ("note.cloze.states", "{Doc} states: {filled}."),
        ("note.cloze.qa", "{fronted_or_echo} {answer}."),
        ("note.cloze.fact_from", "Fact from {where}: {filled}."),
    ],
    "definition": [
        ("note.def.colon", "{Subject}: {answer}."),
        ("note.def.rel", "The {rel} of {subject} is: {answer}."),
        ("note.def.according", "According to {where}, {subject} - {answer}."),
        ("note.def.described", "{Subject} is described as: {answer}."),
        ("note.def.in_short", "In short, the {rel} of {subject}: {answer}."),
    ],
    "faq": [
        ("note.faq.qa", "{question} {answer}"),
        ("note.faq.answers", '{Doc} answers "{question}" with: {answer}'),
        ("note.faq.q_a", "Q: {question} A: {answer}"),
        ("note.faq.asked", "Asked \"{question}\", the answer is: {answer}"),
    ],
    "assignment": [
        ("note.asg.responsible", "{Answer} is responsible for: {subject}."),
        ("note.asg.belongs", "The action item to {subject} belongs to {answer}."),
        ("note.asg.assigns", "{Where} assigns {answer} to {subject}."),
        ("note.asg.will", "{Answer} will {subject}."),
    ],
}

SYNONYMS = {"owner": "person responsible for", "price": "cost", "list price": "listed cost",
            "limit": "maximum", "duration": "length", "date": "day", "status": "state",
            "deadline": "due time", "allowance": "entitlement", "value": "setting",
            "default value": "value used when not given", "purpose": "job", "role": "position",
            "approver": "person who approves", "rate": "percentage", "budget": "funding",
            "technology": "technology used", "level": "grade", "code": "identifier"}


@dataclass(frozen=True)
class Rendered:
    family: str
    text: str


def frame_of(fact: Fact) -> str:
    return FRAME_OF_KIND.get(fact.kind, "attribute")


def _rel(relation: str) -> str:
    return " ".join(w if any(c.isupper() for c in w[1:]) or any(c.isdigit() for c in w)
                    or w.isupper() else w.lower() for w in relation.split())


def _where(context: str) -> str:
    parts = [p.strip() for p in context.split(" > ") if p.strip()]
    if not parts:
        return "the document"
    return parts[0] if len(parts) == 1 else f"{parts[0]} ({parts[-1]})"


def _slots(fact: Fact) -> dict[str, str]:
    rel = _rel(fact.relation)
    wh = fact.wh or "what"
    # "{Whq} is the {rel} of ...": only question words that do not name a noun themselves.
    whq = wh if wh in {"who", "how long", "how much", "how often"} else ""
    doc = document_name(fact.path) or "the document"
    slots = {"subject": fact.subject, "rel": rel, "rel_syn": SYNONYMS.get(rel.lower(), ""),
             "Whq": upper_first(whq), "Wh": upper_first(wh), "wh": wh,
             "where": _where(fact.context or fact.section), "doc": doc, "answer": fact.answer,
             "question": fact.question, "question_lower": lower_first(fact.question),
             "fronted": "", "echo": "", "echo_lower": "", "blank": "", "filled": "",
             "filled_lower": "", "fronted_or_echo": fact.question}
    if fact.statement:
        inner = _inner(fact.statement)
        filled = render_statement(fact.statement, inner.replace("{answer}", fact.answer))
        filled = filled.strip().rstrip(".")
        echo = echo_question(fact.statement, wh)
        blank = render_statement(fact.statement, inner.replace("{answer}", "___"))
        slots.update(echo=echo, echo_lower=lower_first(echo), blank=blank.strip().rstrip("."),
                     filled=filled, filled_lower=lower_first(filled),
                     fronted=fact.question, fronted_or_echo=fact.question or echo)
    slots["subject_pos"] = fact.subject + ("'" if fact.subject.endswith("s") else "'s")
    for key in ("subject", "subject_pos", "answer", "where", "doc", "filled"):
        slots[upper_first(key)] = upper_first(slots[key])
    return slots


def _inner(statement: str) -> str:
    m = re.search(r"\[\[(.*?)\]\]", statement)
    return m.group(1) if m else "{answer}"


def render(fact: Fact, templates: list[Template]) -> list[Rendered]:
    """Every template whose slots the fact fills, rendered; repeats (same text) removed.

    Templates naming both the subject and the document are skipped when the subject *is* the
    document ("What is the owner of X in X?").
    """
    slots = _slots(fact)
    subject_is_place = normalize_question(fact.subject) in {
        normalize_question(slots["where"]), normalize_question(slots["doc"]),
        normalize_question(fact.context)}
    # A short clause ("Last updated ___") means nothing without naming its document.
    needs_place = bool(fact.statement) and len(slots["blank"].split()) < 6
    out, seen = [], set()
    for family, text in templates:
        needed = {name.lower() for name in re.findall(r"\{(\w+)\}", text)}
        if any(not slots.get(name) for name in re.findall(r"\{(\w+)\}", text)):
            continue
        if subject_is_place and "subject" in needed and needed & {"where", "doc"}:
            continue
        if needs_place and not needed & {"where", "doc"}:
            continue
        rendered = re.sub(r"\s+([,;:.?])", r"\1", re.sub(r"\s+", " ", text.format(**slots)))
        rendered = rendered.strip()
        key = rendered.lower()
        if key not in seen:
            seen.add(key)
            out.append(Rendered(family, rendered))
    return out


def all_train_families() -> set[str]:
    return {family for templates in TRAIN.values() for family, _ in templates}


def all_heldout_families() -> set[str]:
    return {family for templates in HELDOUT.values() for family, _ in templates}
