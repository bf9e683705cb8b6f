"""`stream: true`: the answer as server-sent events, fed from the worker thread through a queue
on the event loop; a request past its deadline ends with a timeout event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from knowledge_compiler.serving import protocol
from knowledge_compiler.serving.context import ServeContext
from knowledge_compiler.serving.protocol import ChatRequest
from knowledge_compiler.serving.requests import timeout_error
from knowledge_compiler.serving.work import Job, stream_job


def streaming_response(ctx: ServeContext, job: Job, body: ChatRequest) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    deadline = loop.time() + ctx.limits.request_timeout_s
    ctx.executor.submit(stream_job, ctx, job,
                        lambda event: loop.call_soon_threadsafe(events.put_nowait, event))
    chunk_id, created = protocol.completion_id(), int(time.time())

    async def sse() -> AsyncIterator[bytes]:
        while True:
            try:
                kind, value = await asyncio.wait_for(events.get(), deadline - loop.time())
            except TimeoutError:
                job.abandoned = True
                yield protocol.sse(timeout_error(ctx).body())
                return
            if kind == "start":
                reply, version = value
                yield protocol.sse(protocol.chunk(
                    chunk_id, body.model, created, role=True, content="",
                    kc=protocol.extension(reply, job.tenant, version)))
            elif kind == "piece":
                yield protocol.sse(protocol.chunk(chunk_id, body.model, created, content=value))
            elif kind == "end":
                reply, n_out = value
                finish = "length" if n_out >= job.settings.max_new_tokens else "stop"
                yield protocol.sse(protocol.chunk(chunk_id, body.model, created,
                                                  finish_reason=finish))
                if body.include_usage():
                    yield protocol.sse(protocol.chunk(
                        chunk_id, body.model, created, choices=False,
                        usage={"prompt_tokens": reply.prompt_tokens, "completion_tokens": n_out}))
                yield protocol.SSE_DONE
                return
            else:  # an error after the 200 went out: an error event, as OpenAI sends
                yield protocol.sse(protocol.error_body("the server failed while answering",
                                                       "server_error", None))
                return

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
