"""What keeps one server healthy: a body-size limit, a concurrency gate and access logs.

Both middlewares are plain ASGI (no buffering of responses, so server-sent events stream
through). The access log is one JSON object a line on the `kc.serve.access` logger: method,
path, status, user, model, latency and bytes; never the prompt or the answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from knowledge_compiler.serving.protocol import APIError, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("kc.serve.access")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """413 for a request body over `max_bytes`, whether it declares its length or not.

    A declared Content-Length over the limit is refused before reading; otherwise the body is
    read up to the limit (bodies are small JSON) and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._too_large(send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(send, 413, error_body(
            f"the request body is larger than {self.max_bytes} bytes", "invalid_request_error",
            "request_too_large"))


class AccessLog:
    """One JSON line per request, written when its response has been sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status, sent = 500, 0

        async def watch(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            access_log.info(json.dumps({
                "method": scope["method"], "path": scope["path"], "status": status,
                "user": state.get("user"), "model": state.get("model"),
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "response_bytes": sent}))


class Gate:
    """At most `limit` requests in flight (answering or waiting for the model); beyond it a
    429 with Retry-After, at once: a client retrying later beats a queue that times out."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit, self.retry_after_s = limit, retry_after_s
        self._active = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self._active >= self.limit:
                raise APIError(429, f"the server is answering {self.limit} requests; retry "
                               f"after {self.retry_after_s} s", "rate_limit_error",
                               "server_busy", {"Retry-After": str(self.retry_after_s)})
            self._active += 1

    def leave(self) -> None:
        with self._lock:
            self._active -= 1

    @property
    def active(self) -> int:
        return self._active
