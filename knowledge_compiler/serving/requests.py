"""A chat request checked before any work starts: parsed (400 with the fields at fault), fitted
to the model's window; and the 504 of a request that waited too long."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from knowledge_compiler.serving.context import ServeContext
from knowledge_compiler.serving.protocol import APIError, ChatRequest
from training.prompting import prompt_ids


def parse_request(raw: bytes) -> ChatRequest:
    try:
        return ChatRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            raise APIError(400, "the request body is not valid JSON", "invalid_request_error",
                           "invalid_json") from None
        raise APIError(400, describe_errors(errors), "invalid_request_error",
                       "invalid_request") from None


def describe_errors(errors: list[Any]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: "
                     f"{e['msg']}" for e in errors[:5])


def check_fits(ctx: ServeContext, question: str, max_new_tokens: int) -> None:
    n = len(prompt_ids(ctx.pool.tokenizer, question, None))
    if n + max_new_tokens > ctx.pool.window:
        raise APIError(400, f"the question takes {n} tokens; with {max_new_tokens} answer "
                       f"tokens it does not fit the model's {ctx.pool.window}-token window",
                       "invalid_request_error", "context_length_exceeded")


def timeout_error(ctx: ServeContext) -> APIError:
    return APIError(504, f"no answer within {ctx.limits.request_timeout_s:g} s (the model is "
                    "busy or the question is long)", "timeout_error", "timeout")
