"""The OpenAI chat-completions schema as `kc serve` speaks it.

Responses are the `openai` package's own pydantic types (`ChatCompletion`,
`ChatCompletionChunk`, `Model`), which allow extra fields: the extension field `kc` rides on
them. The request is validated by a small model of the fields the server reads: the `openai`
package's request types are TypedDicts of lazily validated iterables, which cannot check a
body up front. Unknown request fields (temperature, top_p, ...) are accepted and ignored:
answers are greedy, as in evaluation.

Model names: `kc-<tenant>` (the hybrid arm), `kc-<tenant>:rag`, `kc-<tenant>:compiled`.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Literal

from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ConfigDict, Field

from answering import Answer

# The served arms, by model-name suffix; the bare name is the hybrid arm.
ARM_SUFFIXES = {"": "hybrid", "rag": "rag", "compiled": "compiled"}
ADAPTER_ARMS = frozenset({"hybrid", "compiled"})  # need the tenant's champion adapter
MODEL_NAME = re.compile(r"^kc-(?P<tenant>[a-z0-9][a-z0-9_-]{0,62})(?::(?P<arm>[a-z_]+))?$")


def model_id(tenant: str, arm: str) -> str:
    suffix = next(s for s, a in ARM_SUFFIXES.items() if a == arm)
    return f"kc-{tenant}" + (f":{suffix}" if suffix else "")


def parse_model(name: str) -> tuple[str, str] | None:
    """(tenant, arm) of a served model name, or None when the name is not one."""
    match = MODEL_NAME.fullmatch(name)
    if match is None or (match["arm"] or "") not in ARM_SUFFIXES:
        return None
    return match["tenant"], ARM_SUFFIXES[match["arm"] or ""]


# ---------------------------------------------------------------- request
class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields of a chat-completions request that `kc serve` reads."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream_options: dict[str, Any] | None = None
    n: int = Field(1, ge=1, le=1, description="one choice per request")

    def question(self) -> str | None:
        """The last user message: the question (earlier turns are not read)."""
        for message in reversed(self.messages):
            if message.role == "user":
                text = message.text().strip()
                return text or None
        return None

    def answer_tokens(self, cap: int) -> int:
        wanted = self.max_completion_tokens or self.max_tokens or cap
        return min(wanted, cap)

    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


# ---------------------------------------------------------------- errors
class APIError(Exception):
    """An error answered in the OpenAI shape `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(self, status: int, message: str, type_: str, code: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code)


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def unauthorized() -> APIError:
    return APIError(401, "invalid or missing API key: send `Authorization: Bearer <key>`",
                    "authentication_error", "invalid_api_key",
                    {"WWW-Authenticate": 'Bearer realm="kc"'})


def forbidden() -> APIError:
    # One message for a tenant that exists and one that does not: a caller learns nothing.
    return APIError(403, "this API key may not use the requested model", "permission_error",
                    "model_not_permitted")


def model_not_found(name: str, why: str = "") -> APIError:
    return APIError(404, f"the model {name!r} does not exist{why}; GET /v1/models lists "
                    "the models this key may use", "invalid_request_error", "model_not_found")


# ---------------------------------------------------------------- responses
def served_citations(answer: Answer) -> list[dict[str, Any]]:
    return [{"source": c["source_id"], "path": c["path"], "section": c["section"],
             "route": c["route"], "chunk_id": c["chunk_id"], "score": round(c["score"], 6)}
            for c in answer.citations]


def extension(answer: Answer, tenant: str, version: str | None) -> dict[str, Any]:
    """The `kc` extension field: which arm and adapter answered, and what it read."""
    return {"arm": answer.arm, "tenant": tenant, "adapter_version": version,
            "citations": served_citations(answer), "prompt_tokens": answer.prompt_tokens,
            "context_added": answer.context_added}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, model: str, kc: dict[str, Any], completion_tokens: int,
               finish_reason: Literal["stop", "length"]) -> ChatCompletion:
    return ChatCompletion.model_validate({
        "id": completion_id(), "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": answer.text}}],
        "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": answer.prompt_tokens + completion_tokens},
        "kc": kc})


def chunk(chunk_id: str, model: str, created: int, *, content: str | None = None,
          role: bool = False, finish_reason: str | None = None,
          usage: dict[str, int] | None = None, kc: dict[str, Any] | None = None,
          choices: bool = True) -> ChatCompletionChunk:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    body: dict[str, Any] = {
        "id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        if choices else []}
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": usage["prompt_tokens"] +
                         usage["completion_tokens"]}
    if kc is not None:
        body["kc"] = kc
    return ChatCompletionChunk.model_validate(body)


def sse(payload: BaseModel | dict[str, Any]) -> bytes:
    import json

    data = (payload.model_dump_json(exclude_unset=True) if isinstance(payload, BaseModel)
            else json.dumps(payload))
    return f"data: {data}\n\n".encode()


SSE_DONE = b"data: [DONE]\n\n"


def model_card(tenant: str, arm: str, created: int) -> Model:
    return Model(id=model_id(tenant, arm), object="model", created=created,
                 owned_by=f"kc-{tenant}")
