"""The work of one request on a worker thread (which holds the model: one generation at a
time): a whole answer, or a streamed one handed to the event loop piece by piece."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from answering import Answer, ArmSettings, answer_questions, stream_question
from knowledge_compiler.serving.context import ServeContext
from retrieval.access import Principal

log = logging.getLogger("kc.serve")


@dataclass
class Job:
    """One request's work on a worker thread."""

    question: str
    tenant: str
    arm: str
    principal: Principal
    settings: ArmSettings
    abandoned: bool = False  # the client timed out: skip it if it has not started


def answer_job(ctx: ServeContext, job: Job) -> tuple[Answer, str | None, int] | None:
    try:
        with ctx.pool.use(job.tenant) as bundle:
            if job.abandoned:
                return None
            answer = answer_questions([job.question], job.arm, bundle, ctx.index,
                                      job.principal, job.settings)[0]
            return answer, adapter_version(ctx, job.tenant), count_tokens(ctx, answer.text)
    finally:
        ctx.gate.leave()


def stream_job(ctx: ServeContext, job: Job, emit: Callable[[tuple[str, Any]], None]) -> None:
    try:
        with ctx.pool.use(job.tenant) as bundle:
            if job.abandoned:
                return
            reply, pieces = stream_question(job.question, job.arm, bundle, ctx.index,
                                            job.principal, job.settings)
            emit(("start", (reply, adapter_version(ctx, job.tenant))))
            for piece in pieces:
                if piece:
                    emit(("piece", piece))
            emit(("end", (reply, count_tokens(ctx, reply.text))))
    except Exception as exc:
        log.exception("kc serve: streaming failed")
        emit(("error", exc))
    finally:
        ctx.gate.leave()


def adapter_version(ctx: ServeContext, tenant: str) -> str | None:
    adapter = ctx.pool.adapters.get(tenant)
    return adapter.version if adapter is not None else None


def count_tokens(ctx: ServeContext, text: str) -> int:
    return len(ctx.pool.tokenizer(text, add_special_tokens=False)["input_ids"])


def reload_logged(ctx: ServeContext) -> None:
    """A reload on SIGHUP: nobody awaits it, so a failure is logged (the old adapters stay)."""
    try:
        ctx.reload()
    except Exception:
        log.exception("kc serve: reload on SIGHUP failed; still serving the previous champions")
