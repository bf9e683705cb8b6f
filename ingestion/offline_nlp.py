"""Run ``unstructured`` with no network: a rule-based spaCy pipeline in place of en_core_web_sm.

unstructured 0.27 classifies text (title vs narrative) with spaCy's ``en_core_web_sm``, which it
downloads from the internet on first use; offline, md/txt/html/docx partitioning then raises.
It needs only three things from spaCy: word tokens, sentence boundaries and whether a text holds
a verb (``contains_verb`` looks for VB* tags). spaCy's blank English pipeline gives the first two
without any model (rule-based tokenizer + ``sentencizer``); a verb lexicon gives the third.

We did not take the third-party re-uploads of en_core_web_sm on PyPI: their code runs at load
time, from an unknown publisher, for a heuristic a word list covers. The cost is coarser
title/narrative classification, which the self-check (``ingestion.selfcheck``) watches.
"""

from __future__ import annotations

import os
from functools import cache

# unstructured pings its vendor on import and on every partition() unless told not to.
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")

_BASE_VERBS = """
accept add agree allow answer appear apply approve arrive ask assign attach back be become begin
belong bill block book break bring build buy calculate call cancel carry cause change charge check
choose claim clean close collect come commit compare compile complete configure confirm connect
consider contain continue contribute control cost count cover create cut deal decide define
delete deliver deploy describe design determine develop die do document draw drive drop earn
eat enable encrypt end enforce ensure enter escalate estimate expect expire explain fail fall
feel fetch file fill find finish fit fix follow forget form get give go grant grow handle happen
have hear help hold host identify implement improve include increase index indicate ingest
install introduce invoice issue join keep know lead learn leave let lie like limit list live load
log look lose maintain make manage mean measure meet merge migrate miss monitor move need note
notify obtain occur offer open operate order own page pass pay perform pick place plan play point
prefer prepare present prevent print process produce protect provide publish pull purchase push
put raise reach read receive record reduce refer refund reject release rely remain remember remove
renew replace reply report represent request require reserve reset resolve respond rest restart
restore retain retry return review rise rotate route run save say schedule see seem sell send
serve set share ship show sign sit sleep speak spend split stand start state stay stop store
submit succeed suggest supply support suppose switch take talk teach tell tend test think throttle
track train transfer travel treat trigger try turn understand update upgrade use validate verify
view visit wait walk want warn watch win wish work write
"""

_IRREGULAR = """
am is are was were been being has had having does did done doing went gone made said got gotten
took taken came saw seen knew known thought told found gave given left felt kept began begun ran
wrote written sent built spent paid held brought bought stood understood lost meant met set put
cut let shut hit read led chose chosen drove driven rose risen fell fallen grew grown drew drawn
broke broken spoke spoken won sold shown flew flown sat slept lay lain become became
can could may might must shall should will would ought
"""


def _inflections(verb: str) -> set[str]:
    """Regular forms; over-generation is harmless, the list only answers 'is there a verb'."""
    forms = {verb, verb + "s", verb + "es", verb + "ed", verb + "d", verb + "ing"}
    if verb.endswith("e"):
        forms |= {verb[:-1] + "ing", verb + "d"}
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        forms |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    if len(verb) >= 3 and verb[-1] not in "aeiouwxy" and verb[-2] in "aeiou":
        forms |= {verb + verb[-1] + "ed", verb + verb[-1] + "ing"}
    return forms


@cache
def verb_lexicon() -> frozenset[str]:
    words: set[str] = set(_IRREGULAR.split())
    for verb in _BASE_VERBS.split():
        words |= _inflections(verb)
    return frozenset(words)


@cache
def build_pipeline():  # -> spacy.language.Language
    """spaCy blank English + sentencizer + a verb-lexicon tagger. Needs no model files."""
    import spacy
    from spacy.language import Language

    if not Language.has_factory("kc_verb_tagger"):

        @Language.component("kc_verb_tagger")
        def kc_verb_tagger(doc):  # type: ignore[no-untyped-def]
            lexicon = verb_lexicon()
            for token in doc:
                token.tag_ = "VB" if token.lower_ in lexicon else "NN"
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("kc_verb_tagger")
    nlp.max_length = 2_000_000
    return nlp


def _refuse_download() -> None:
    raise RuntimeError(
        "unstructured tried to download the spaCy model en_core_web_sm; Knowledge Compiler "
        "runs offline and should have installed its own pipeline (ingestion.offline_nlp)."
    )


@cache
def install() -> None:
    """Point unstructured's NLP helpers at the offline pipeline. Idempotent."""
    import unstructured.nlp.tokenize as tokenize

    nlp = build_pipeline()
    # Private hooks, pinned by `unstructured==0.27.*`; the self-check fails loudly if they move.
    if not hasattr(tokenize, "_get_nlp") or not hasattr(tokenize, "_install_spacy_model"):
        raise RuntimeError(
            "unstructured's NLP hooks changed (unstructured.nlp.tokenize._get_nlp); "
            "update ingestion/offline_nlp.py for this unstructured version"
        )
    tokenize._get_nlp = lambda: nlp
    tokenize._install_spacy_model = _refuse_download
    for cached in (tokenize._process_cached, tokenize.word_tokenize, tokenize.pos_tag,
                   tokenize._tokenize_for_cache):
        cached.cache_clear()
