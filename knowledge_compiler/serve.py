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
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from answering import Answer, ArmSettings, answer_questions, stream_question
from knowledge_compiler.serving import protocol
from knowledge_compiler.serving.adapters import AdapterPool, ChampionSource, registry_champions
from knowledge_compiler.serving.auth import ApiKeys
from knowledge_compiler.serving.limits import AccessLog, BodyLimit, Gate
from knowledge_compiler.serving.protocol import ADAPTER_ARMS, APIError, ChatRequest
from retrieval.access import Principal
from settings.config import ConfigError, Settings
from training.prompting import prompt_ids

log = logging.getLogger("kc.serve")


class ServeContext:
    """Everything a request needs: who may ask what, the model pool, the index, the limits."""

    def __init__(self, settings: Settings, pool: AdapterPool, index: Any,
                 keys: ApiKeys, champions: ChampionSource | None = None) -> None:
        self.settings = settings
        self.limits = settings.serve
        self.pool = pool
        self.index = index
        self.keys = keys
        self.champions = champions
        self.arm_settings = ArmSettings(k=settings.serve.k or settings.evaluation.k,
                                        mode=settings.retrieval.mode,
                                        max_new_tokens=settings.serve.max_new_tokens,
                                        batch_size=1)
        self.gate = Gate(settings.serve.max_concurrent_requests, settings.serve.retry_after_s)
        self.executor = ThreadPoolExecutor(settings.serve.max_concurrent_requests,
                                           thread_name_prefix="kc-serve")
        self.created = int(time.time())
        self._reload_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings: Settings) -> ServeContext:
        """Production: the configured base, the index, champions from the MLflow registry."""
        from training import registry
        from training.compile_inputs import base_for

        keys = _keys(settings)
        registry.Tracking.local(settings.kc_home).activate()
        pool = AdapterPool(base_for(settings)[1],
                           generation_timeout_s=settings.serve.generation_timeout_s)
        ctx = cls(settings, pool, open_index(settings), keys, registry_champions)
        ctx.reload()
        return ctx

    @classmethod
    def from_adapters(cls, settings: Settings, base_path: str | Path,
                      adapters: Mapping[str, str | Path], index: Any = None,
                      environ: Mapping[str, str] | None = None) -> ServeContext:
        """Adapters from folders ({tenant: adapter folder}) instead of the registry: for tests
        and for serving a compile that was never registered. `POST /admin/reload` then has
        nothing to resolve."""
        keys = _keys(settings, environ)
        pool = AdapterPool(base_path, generation_timeout_s=settings.serve.generation_timeout_s)
        for tenant, folder in adapters.items():
            pool.load(tenant, folder)
        return cls(settings, pool, index, keys, None)

    @classmethod
    def from_registry(cls, settings: Settings, base_path: str | Path, index: Any = None,
                      environ: Mapping[str, str] | None = None) -> ServeContext:
        """Champions from the active MLflow registry over the base at `base_path`."""
        keys = _keys(settings, environ)
        pool = AdapterPool(base_path, generation_timeout_s=settings.serve.generation_timeout_s)
        ctx = cls(settings, pool, index, keys, registry_champions)
        ctx.reload()
        return ctx

    def reload(self) -> dict[str, str | None]:
        """Resolve each tenant's champion again; a promotion is served from now on."""
        if self.champions is None:
            raise APIError(409, "this server serves adapter folders, not the registry: "
                           "nothing to reload", "invalid_request_error", "no_registry")
        with self._reload_lock:
            served = self.pool.refresh(self.settings.tenants, self.champions)
        log.info("kc serve: champions %s", served)
        return served

    # ------------------------------------------------------------------ access
    def tenants_of(self, user: str) -> list[str]:
        return self.settings.user_tenants(user)

    def principal(self, user: str, tenant: str) -> Principal:
        return Principal(user=user, groups=frozenset(self.settings.user_groups(user)),
                         tenants=frozenset({tenant}))

    def available(self, tenant: str, arm: str) -> bool:
        if arm in ADAPTER_ARMS:
            return self.pool.has_adapter(tenant)
        return self.index is not None

    def models_for(self, user: str) -> list[tuple[str, str]]:
        return [(tenant, arm) for tenant in self.tenants_of(user)
                for arm in protocol.ARM_SUFFIXES.values() if self.available(tenant, arm)]

    def resolve(self, user: str, name: str) -> tuple[str, str]:
        """(tenant, arm) of a model the user may use; 404 for a name that is no model, 403
        for a tenant outside the user's (existing or not: the answer is the same)."""
        parsed = protocol.parse_model(name)
        if parsed is None:
            raise protocol.model_not_found(name)
        tenant, arm = parsed
        if tenant not in self.tenants_of(user):
            raise protocol.forbidden()
        if not self.available(tenant, arm):
            why = (" yet: the tenant has no champion adapter (run `kc run`)"
                   if arm in ADAPTER_ARMS else ": the server has no index (run `kc run`)")
            raise protocol.model_not_found(name, why)
        return tenant, arm


@dataclass
class _Job:
    """One request's work on a worker thread."""

    question: str
    tenant: str
    arm: str
    principal: Principal
    settings: ArmSettings
    abandoned: bool = False  # the client timed out: skip it if it has not started


def _keys(settings: Settings, environ: Mapping[str, str] | None = None) -> ApiKeys:
    if not settings.serve.api_keys:
        raise ConfigError(f"{settings.config_path}: serve.api_keys is empty: every request "
                          "would be refused; map users to keys (docs/serving.md)")
    return ApiKeys.from_config(settings.serve.api_keys, environ, known_users=set(settings.users))


def open_index(settings: Settings) -> Any:
    """The chunk index as `kc ask` opens it, or None when there is none yet."""
    import os

    from retrieval.embedder import HashingEmbedder, SentenceTransformerEmbedder
    from retrieval.index import ChunkIndex

    if not (settings.index_path / "chunks.lance").exists():
        log.warning("kc serve: no index at %s: only closed-book models are served",
                    settings.index_path)
        return None
    embedder = (HashingEmbedder(dim=64) if os.environ.get("KC_EMBEDDER") == "hashing"
                else SentenceTransformerEmbedder(model_path=settings.embedder_path(),
                                                 threads=settings.retrieval.embed_threads))
    return ChunkIndex(settings.index_path, embedder)


# ---------------------------------------------------------------- the work (worker threads)
def _answer(ctx: ServeContext, job: _Job) -> tuple[Answer, str | None, int] | None:
    try:
        with ctx.pool.use(job.tenant) as bundle:
            if job.abandoned:
                return None
            answer = answer_questions([job.question], job.arm, bundle, ctx.index,
                                      job.principal, job.settings)[0]
            return answer, _version(ctx, job.tenant), _count(ctx, answer.text)
    finally:
        ctx.gate.leave()


def _stream(ctx: ServeContext, job: _Job, emit: Callable[[tuple[str, Any]], None]) -> None:
    try:
        with ctx.pool.use(job.tenant) as bundle:
            if job.abandoned:
                return
            reply, pieces = stream_question(job.question, job.arm, bundle, ctx.index,
                                            job.principal, job.settings)
            emit(("start", (reply, _version(ctx, job.tenant))))
            for piece in pieces:
                if piece:
                    emit(("piece", piece))
            emit(("end", (reply, _count(ctx, reply.text))))
    except Exception as exc:
        log.exception("kc serve: streaming failed")
        emit(("error", exc))
    finally:
        ctx.gate.leave()


def _version(ctx: ServeContext, tenant: str) -> str | None:
    adapter = ctx.pool.adapters.get(tenant)
    return adapter.version if adapter is not None else None


def _count(ctx: ServeContext, text: str) -> int:
    return len(ctx.pool.tokenizer(text, add_special_tokens=False)["input_ids"])


def _reload_logged(ctx: ServeContext) -> None:
    """A reload on SIGHUP: nobody awaits it, so a failure is logged (the old adapters stay)."""
    try:
        ctx.reload()
    except Exception:
        log.exception("kc serve: reload on SIGHUP failed; still serving the previous champions")


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
                                    lambda: loop.run_in_executor(None, _reload_logged, ctx))
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
        return JSONResponse(protocol.error_body(_describe(exc.errors()),
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
        body = _parse(await request.body())
        request.state.model = body.model
        tenant, arm = ctx.resolve(user, body.model)
        question = body.question()
        if question is None:
            raise APIError(400, "no user message with text: the last user message is the "
                           "question", "invalid_request_error", "invalid_request")
        settings = replace(ctx.arm_settings,
                           max_new_tokens=body.answer_tokens(ctx.limits.max_new_tokens))
        _check_fits(ctx, question, settings.max_new_tokens)
        job = _Job(question, tenant, arm, ctx.principal(user, tenant), settings)
        ctx.gate.enter()
        if body.stream:
            return _streaming_response(ctx, job, body)
        future = asyncio.wrap_future(ctx.executor.submit(_answer, ctx, job))
        # asyncio.wait, not wait_for: a timed-out job must not be cancelled before it starts,
        # or nothing would leave the gate; it is skipped instead.
        done, _ = await asyncio.wait({future}, timeout=ctx.limits.request_timeout_s)
        if not done:
            job.abandoned = True
            raise _timeout(ctx)
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


def _parse(raw: bytes) -> ChatRequest:
    try:
        return ChatRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            raise APIError(400, "the request body is not valid JSON", "invalid_request_error",
                           "invalid_json") from None
        raise APIError(400, _describe(errors), "invalid_request_error",
                       "invalid_request") from None


def _describe(errors: list[Any]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: "
                     f"{e['msg']}" for e in errors[:5])


def _check_fits(ctx: ServeContext, question: str, max_new_tokens: int) -> None:
    n = len(prompt_ids(ctx.pool.tokenizer, question, None))
    if n + max_new_tokens > ctx.pool.window:
        raise APIError(400, f"the question takes {n} tokens; with {max_new_tokens} answer "
                       f"tokens it does not fit the model's {ctx.pool.window}-token window",
                       "invalid_request_error", "context_length_exceeded")


def _timeout(ctx: ServeContext) -> APIError:
    return APIError(504, f"no answer within {ctx.limits.request_timeout_s:g} s (the model is "
                    "busy or the question is long)", "timeout_error", "timeout")


def _streaming_response(ctx: ServeContext, job: _Job, body: ChatRequest) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    deadline = loop.time() + ctx.limits.request_timeout_s
    ctx.executor.submit(_stream, ctx, job,
                        lambda event: loop.call_soon_threadsafe(events.put_nowait, event))
    chunk_id, created = protocol.completion_id(), int(time.time())

    async def sse() -> AsyncIterator[bytes]:
        while True:
            try:
                kind, value = await asyncio.wait_for(events.get(), deadline - loop.time())
            except TimeoutError:
                job.abandoned = True
                yield protocol.sse(_timeout(ctx).body())
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
