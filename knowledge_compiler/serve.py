"""`kc serve`: the compiled knowledge behind an OpenAI-compatible endpoint (docs/serving.md).

- `POST /v1/chat/completions` (non-streaming, and `stream: true` as server-sent events),
  `GET /v1/models`, `GET /v1/models/{model}`, `POST /admin/reload`, `GET /health`;
- a model per tenant and arm: `kc-<tenant>` (hybrid), `kc-<tenant>:rag`, `kc-<tenant>:compiled`;
- the answer comes from `answering` (the code `kc ask` and evaluation use) with the
  tenant's champion adapter active and retrieval prefiltered by the caller's groups;
- the extension field `kc` holds the arm, the adapter version and the citations.

Each request runs on a worker thread that holds the model (one generation at a time); the
event loop only parses, authenticates, streams and times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from knowledge_compiler.serving import protocol
from knowledge_compiler.serving.context import ServeContext, open_index
from knowledge_compiler.serving.limits import AccessLog, BodyLimit
from knowledge_compiler.serving.protocol import APIError
from knowledge_compiler.serving.requests import (
    check_fits,
    describe_errors,
    parse_request,
    timeout_error,
)
from knowledge_compiler.serving.streaming import streaming_response
from knowledge_compiler.serving.work import Job, answer_job, reload_logged
from settings.config import Settings

__all__ = ["ServeContext", "configure_logging", "create_app", "open_index", "run"]

log = logging.getLogger("kc.serve")


# ---------------------------------------------------------------- the app
bearer = HTTPBearer(auto_error=False)


def current_user(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The user of the request's API key (401 without a valid one)."""
    ctx: ServeContext = request.app.state.kc
    user = ctx.keys.user_for(credentials.credentials if credentials else None)
    if user is None:
        raise protocol.unauthorized()
    request.state.user = user
    return user


User = Annotated[str, Depends(current_user)]


def create_app(ctx: ServeContext) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        hup = (ctx.champions is not None and hasattr(signal, "SIGHUP")
               and threading.current_thread() is threading.main_thread())
        if hup:  # `kill -HUP <pid>` reloads the champions, like POST /admin/reload
            loop.add_signal_handler(signal.SIGHUP,
                                    lambda: loop.run_in_executor(None, reload_logged, ctx))
        yield
        if hup:
            loop.remove_signal_handler(signal.SIGHUP)
        ctx.executor.shutdown(wait=False, cancel_futures=False)

    app = FastAPI(title="Knowledge Compiler", lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.kc = ctx

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(protocol.error_body(str(exc.detail), "invalid_request_error", code),
                            exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(protocol.error_body(describe_errors(exc.errors()),
                                                "invalid_request_error", "invalid_request"), 400)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("kc serve: %s on %s: %s", type(exc).__name__, request.url.path, exc)
        return JSONResponse(protocol.error_body("the server failed to answer; see its log",
                                                "server_error", None), 500)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "tenants_with_adapter": len(ctx.pool.adapters)}

    @app.get("/v1/models")
    def list_models(user: User) -> dict[str, Any]:
        cards = [protocol.model_card(t, a, ctx.created) for t, a in ctx.models_for(user)]
        return {"object": "list", "data": [c.model_dump() for c in cards]}

    @app.get("/v1/models/{name}")
    def get_model(name: str, request: Request,
                  user: User) -> dict[str, Any]:
        request.state.model = name
        tenant, arm = ctx.resolve(user, name)
        return protocol.model_card(tenant, arm, ctx.created).model_dump()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request,
                   user: User) -> JSONResponse | StreamingResponse:
        # Parsed after authentication, so an unauthenticated caller learns nothing of the schema.
        body = parse_request(await request.body())
        request.state.model = body.model
        tenant, arm = ctx.resolve(user, body.model)
        question = body.question()
        if question is None:
            raise APIError(400, "no user message with text: the last user message is the "
                           "question", "invalid_request_error", "invalid_request")
        settings = replace(ctx.arm_settings,
                           max_new_tokens=body.answer_tokens(ctx.limits.max_new_tokens))
        check_fits(ctx, question, settings.max_new_tokens)
        job = Job(question, tenant, arm, ctx.principal(user, tenant), settings)
        ctx.gate.enter()
        if body.stream:
            return streaming_response(ctx, job, body)
        future = asyncio.wrap_future(ctx.executor.submit(answer_job, ctx, job))
        # asyncio.wait, not wait_for: a timed-out job must not be cancelled before it starts,
        # or nothing would leave the gate; it is skipped instead.
        done, _ = await asyncio.wait({future}, timeout=ctx.limits.request_timeout_s)
        if not done:
            job.abandoned = True
            raise timeout_error(ctx)
        result = future.result()
        assert result is not None
        answer, version, n_out = result
        finish = "length" if n_out >= settings.max_new_tokens else "stop"
        out = protocol.completion(answer, body.model, protocol.extension(answer, tenant, version),
                                  n_out, finish)
        return JSONResponse(out.model_dump(exclude_unset=True))

    @app.post("/admin/reload")
    async def reload(user: User) -> dict[str, Any]:
        if user not in ctx.limits.admins:
            raise APIError(403, "this API key may not reload the server (serve.admins)",
                           "permission_error", "not_admin")
        served = await run_in_threadpool(ctx.reload)
        return {"served": served}

    app.add_middleware(BodyLimit, max_bytes=ctx.limits.max_body_bytes)
    app.add_middleware(AccessLog)  # outermost: 413s are logged too
    return app


# ---------------------------------------------------------------- running
def configure_logging() -> None:
    """Access log lines (JSON) and server messages on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("kc.serve")
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Build the context from kc.yaml and serve until interrupted."""
    import uvicorn

    configure_logging()
    ctx = ServeContext.from_settings(settings)
    host = host or settings.serve.host
    port = port or settings.serve.port
    log.info("kc serve: http://%s:%d/v1 (%d API keys, tenants %s)", host, port, len(ctx.keys),
             ", ".join(settings.tenants))
    uvicorn.run(create_app(ctx), host=host, port=port, access_log=False, log_level="warning")
