"""Answering: one base model and a tenant's LoRA adapter answering in the arms a user calls
(closed-book, rag, full_context, hybrid), with retrieval, prompts fitted to the window and
citations. `kc ask`, `kc serve` and the evaluation all answer through here."""

from answering.arms import (
    ARMS,
    CONTEXT_ARMS,
    Answer,
    PrincipalFor,
    answer_question,
    answer_questions,
    resolve_principal,
    stream_question,
)
from answering.context import (
    ArmSettings,
    CorpusCache,
    fit_passages,
    hybrid_retrieve,
    retrieve,
    tenant_corpus,
)
from answering.model import AnsweringModel, NoChampion, model_window, tenant_model

__all__ = ["ARMS", "CONTEXT_ARMS", "Answer", "AnsweringModel", "ArmSettings", "CorpusCache",
           "NoChampion", "PrincipalFor", "answer_question", "answer_questions", "fit_passages",
           "hybrid_retrieve", "model_window", "resolve_principal", "retrieve",
           "stream_question", "tenant_corpus", "tenant_model"]
