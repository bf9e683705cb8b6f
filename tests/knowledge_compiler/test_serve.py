"""`kc serve` driven by real clients: the official `openai` package (streaming and not) and
plain HTTP for the error cases, over a uvicorn server on 127.0.0.1.

The model is a tiny random Llama with two tenants' LoRA adapters (random B matrices, so each
adapter changes the answers): answers are noise, so isolation is checked through the
citations (each tenant's chunks carry its own source) and through the adapter that answered
(the served text equals what `answer_questions` gives with that tenant's adapter alone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from answering import AnsweringModel, ArmSettings, answer_questions
from retrieval.access import Principal
from settings.config import ConfigError, Settings

TENANTS = ("acme", "globex")
ALICE_KEY = "kc-test-alice-0123456789abcdef"  # acme
BOB_KEY = "kc-test-bob-0123456789abcdefgh"  # globex
CAROL_KEY = "kc-test-carol-0123456789abcdef"  # both tenants, admin
ANSWER_TOKENS = 6
QUESTIONS = [
    "Who owns the payments gateway?",
    "Which port does the relay listen on?",
    "What does error KX-19 mean?",
    "When does the cafeteria open?",
    "Who is on call this week?",
]


def _chunks() -> list[dict[str, Any]]:
    """Near-identical text in both tenants: a leak would cite the other tenant's copy."""
    facts = [("gateway", "The payments gateway is owned by {owner}."),
             ("relay", "The relay listens on port {port}."),
             ("kx19", "Error KX-19 means {meaning}."),
             ("cafeteria", "The cafeteria opens at {hour} on weekdays."),
             ("oncall", "{owner} is on call this week for the relay.")]
    values = {"acme": {"owner": "Lena Brook", "port": "8443", "meaning": "disk quota exceeded",
                       "hour": "08:00"},
              "globex": {"owner": "Tam Oskel", "port": "9443", "meaning": "quota reset",
                         "hour": "09:00"}}
    rows = []
    for tenant in TENANTS:
        for slug, text in facts:
            rows.append({"chunk_id": f"{tenant}-{slug}", "document_id": f"doc-{tenant}-{slug}",
                         "tenant": tenant, "acl_groups": [tenant],
                         "route": "volatile" if slug in ("relay", "oncall") else "static",
                         "source_id": f"{tenant}-docs", "path": f"{slug}.md",
                         "section": "Facts", "text": text.format(**values[tenant])})
    return rows


def settings_for(**serve: Any) -> Settings:
    sha = hashlib.sha256(BOB_KEY.encode()).hexdigest()
    return Settings.model_validate({
        "sources": [{"name": f"{t}-docs", "type": "documents", "path": f"/nonexistent/{t}",
                     "tenant": t, "acl_groups": [t]} for t in TENANTS],
        "users": {"alice": {"groups": ["acme"]}, "bob": {"groups": ["globex"]},
                  "carol": {"groups": ["acme", "globex"]}},
        "serve": {"api_keys": {"alice": {"key_env": "KC_TEST_ALICE_KEY"},
                               "bob": {"key_sha256": sha},
                               "carol": {"key_env": "KC_TEST_CAROL_KEY"}},
                  "admins": ["carol"], "max_body_bytes": 4096, "max_concurrent_requests": 4,
                  "max_new_tokens": ANSWER_TOKENS, **serve}})


ENVIRON = {"KC_TEST_ALICE_KEY": ALICE_KEY, "KC_TEST_CAROL_KEY": CAROL_KEY}


def make_adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter on q_proj/v_proj with random B (init_lora_weights=False)."""
    from peft import LoraConfig, get_peft_model

    from training.base_model import load_causal_lm

    model, _ = load_causal_lm(base)
    torch.manual_seed(seed)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                            task_type="CAUSAL_LM", init_lora_weights=False))
    peft.save_pretrained(out)
    return out


class Server:
    """uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_world(tmp_path_factory.mktemp("serve"))


def build_world(root: Path) -> dict[str, Any]:
    """The tiny base, one adapter per tenant and a hashing index over both tenants."""
    from retrieval import ChunkIndex, HashingEmbedder
    from tests.training.test_base_support import tiny_llama_dir

    torch.set_num_threads(1)  # a shared 2-core machine: one thread is faster (trainers.py)
    base = tiny_llama_dir(root / "base", window=512)
    adapters = {t: make_adapter(base, root / f"adapter-{t}", seed=i + 1)
                for i, t in enumerate(TENANTS)}
    index = ChunkIndex(root / "lancedb", embedder=HashingEmbedder(dim=64))
    index.sync(_chunks())
    return {"root": root, "base": base, "adapters": adapters, "index": index}


def reference_settings(settings: Settings) -> ArmSettings:
    return ArmSettings(k=settings.evaluation.k, mode=settings.retrieval.mode,
                       max_new_tokens=ANSWER_TOKENS, batch_size=1)


@pytest.fixture(scope="module")
def expected(world: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """(tenant, arm, question) -> the Answer of `answer_questions` with the tenant's adapter
    loaded on its own (no server, no other adapter in memory)."""
    arm_settings = reference_settings(settings_for())
    out = {}
    for tenant in TENANTS:
        bundle = AnsweringModel.load(world["base"], world["adapters"][tenant])
        principal = Principal(user="ref", groups=frozenset({tenant}),
                              tenants=frozenset({tenant}))
        for arm in ("rag", "compiled", "hybrid"):
            for question, answer in zip(QUESTIONS, answer_questions(
                    QUESTIONS, arm, bundle, world["index"], principal, arm_settings),
                                        strict=True):
                out[tenant, arm, question] = answer
    return out


@pytest.fixture(scope="module")
def served(world: dict[str, Any]) -> Iterator[Any]:
    from knowledge_compiler.serve import ServeContext, create_app

    ctx = ServeContext.from_adapters(settings_for(), world["base"], world["adapters"],
                                     world["index"], environ=ENVIRON)
    with Server(create_app(ctx)) as server:
        server.ctx = ctx
        yield server


def client(server: Any, key: str) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


def post(server: Any, body: Any, key: str | None = ALICE_KEY, path: str = "/v1/chat/completions",
         **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, dict):
        kwargs["json"] = body
    else:
        kwargs["content"] = body
    return httpx.post(server.url + path, headers=headers, timeout=30, **kwargs)


def ask(model: str, question: str = QUESTIONS[0], **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "system", "content": "be brief"},
                                         {"role": "user", "content": question}], **extra}


# ---------------------------------------------------------------- models and answers
def test_models_listed_per_user(served: Any) -> None:
    alice = sorted(m.id for m in client(served, ALICE_KEY).models.list())
    carol = sorted(m.id for m in client(served, CAROL_KEY).models.list())
    assert alice == ["kc-acme", "kc-acme:compiled", "kc-acme:rag"]
    assert carol == ["kc-acme", "kc-acme:compiled", "kc-acme:rag",
                     "kc-globex", "kc-globex:compiled", "kc-globex:rag"]
    card = client(served, BOB_KEY).models.retrieve("kc-globex:rag")
    assert (card.id, card.owned_by, card.object) == ("kc-globex:rag", "kc-globex", "model")


@pytest.mark.parametrize("arm", ["rag", "compiled", "hybrid"])
def test_openai_client_answers_as_answer_questions(served: Any, expected: dict,
                                                   arm: str) -> None:
    model = "kc-acme" if arm == "hybrid" else f"kc-acme:{arm}"
    question = QUESTIONS[1]
    reply = client(served, ALICE_KEY).chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], max_tokens=ANSWER_TOKENS)
    want = expected["acme", arm, question]
    assert reply.choices[0].message.content == want.text
    assert reply.model == model and reply.object == "chat.completion"
    assert reply.usage.prompt_tokens == want.prompt_tokens
    kc = reply.kc  # the extension field, kept by the openai types (extra="allow")
    assert kc["arm"] == arm and kc["tenant"] == "acme" and kc["prompt_tokens"] == want.prompt_tokens
    assert [c["chunk_id"] for c in kc["citations"]] == [c["chunk_id"] for c in want.citations]
    assert {c["source"] for c in kc["citations"]} <= {"acme-docs"}
    if arm == "rag":
        assert len(kc["citations"]) == 3 and kc["context_added"]
        assert set(kc["citations"][0]) >= {"source", "path", "section", "route", "chunk_id"}
    if arm == "compiled":
        assert kc["citations"] == [] and not kc["context_added"]


def test_adapters_differ_so_isolation_checks_can_fail(expected: dict) -> None:
    """The two tenants' adapters answer the same prompt differently: a served answer from the
    wrong adapter would not equal the expected one."""
    differ = [q for q in QUESTIONS
              if expected["acme", "compiled", q].text != expected["globex", "compiled", q].text]
    assert len(differ) >= 4


def test_streaming_with_openai_client(served: Any, expected: dict) -> None:
    question = QUESTIONS[2]
    stream = client(served, BOB_KEY).chat.completions.create(
        model="kc-globex:rag", messages=[{"role": "user", "content": question}],
        max_tokens=ANSWER_TOKENS, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    want = expected["globex", "rag", question]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == want.text
    first, usage = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant"
    assert [c["chunk_id"] for c in first.kc["citations"]] == [c["chunk_id"]
                                                             for c in want.citations]
    assert {c["source"] for c in first.kc["citations"]} == {"globex-docs"}
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")
    assert usage.choices == [] and usage.usage.prompt_tokens == want.prompt_tokens


def test_streaming_raw_sse_ends_with_done(served: Any) -> None:
    with httpx.stream("POST", served.url + "/v1/chat/completions",
                      headers={"Authorization": f"Bearer {ALICE_KEY}"}, timeout=30,
                      json=ask("kc-acme:compiled", stream=True)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["object"] == "chat.completion.chunk"


# ---------------------------------------------------------------- errors, over plain HTTP
def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    return error


def test_missing_or_wrong_key_is_401(served: Any) -> None:
    for key in (None, "kc-test-wrong-key-0123456789", ALICE_KEY[:-1]):
        response = post(served, ask("kc-acme"), key=key)
        _error(response, 401, "invalid_api_key")
        assert response.headers["www-authenticate"].startswith("Bearer")
    # An unauthenticated caller learns nothing: malformed JSON is still 401, not 400.
    _error(post(served, b"{not json", key=None), 401, "invalid_api_key")
    assert httpx.get(served.url + "/v1/models", timeout=10).status_code == 401


def test_foreign_tenant_is_403_and_says_nothing_of_existence(served: Any) -> None:
    foreign = post(served, ask("kc-globex:rag"))
    missing = post(served, ask("kc-no-such-tenant:rag"))
    _error(foreign, 403, "model_not_permitted")
    assert foreign.json() == missing.json()
    for model in ("kc-globex", "kc-globex:compiled"):
        _error(post(served, ask(model)), 403, "model_not_permitted")
    assert httpx.get(served.url + "/v1/models/kc-globex", timeout=10,
                     headers={"Authorization": f"Bearer {ALICE_KEY}"}).status_code == 403


def test_unknown_model_is_404(served: Any) -> None:
    for model in ("gpt-4o", "kc-acme:full_context", "kc-Acme", "kc-acme:"):
        _error(post(served, ask(model)), 404, "model_not_found")


def test_malformed_and_invalid_requests_are_400(served: Any) -> None:
    _error(post(served, b'{"model": "kc-acme", "messages": ['), 400, "invalid_json")
    _error(post(served, {"model": "kc-acme"}), 400, "invalid_request")
    _error(post(served, {"model": "kc-acme", "messages": [{"role": "oracle", "content": "x"}]}),
           400, "invalid_request")
    _error(post(served, {"model": "kc-acme", "messages": [{"role": "system", "content": "x"}]}),
           400, "invalid_request")
    _error(post(served, ask("kc-acme", question="word " * 600)), 400, "context_length_exceeded")


def test_oversized_body_is_413(served: Any) -> None:
    big = ask("kc-acme", question="x" * 5000)
    _error(post(served, big), 413, "request_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while read
        data = json.dumps(big).encode()
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    _error(post(served, chunked()), 413, "request_too_large")


def test_reload_needs_an_admin_and_a_registry(served: Any) -> None:
    _error(post(served, {}, path="/admin/reload"), 403, "not_admin")
    _error(post(served, {}, key=CAROL_KEY, path="/admin/reload"), 409, "no_registry")


def test_unknown_path_is_404_in_openai_shape(served: Any) -> None:
    _error(httpx.get(served.url + "/v1/nothing", timeout=10), 404, "not_found")


# ---------------------------------------------------------------- limits and logs
def _wait(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_beyond_the_limit_is_429_with_retry_after(served: Any) -> None:
    ctx = served.ctx
    body = ask("kc-acme:compiled", max_tokens=1)
    with ThreadPoolExecutor(4) as pool:
        with ctx.pool.lock:  # the model is busy: requests queue for it
            waiting = [pool.submit(post, served, body) for _ in range(4)]
            _wait(lambda: ctx.gate.active == 4)
            refused = post(served, body)
        _error(refused, 429, "server_busy")
        assert refused.headers["retry-after"] == "2"
        assert [f.result().status_code for f in waiting] == [200] * 4
    _wait(lambda: ctx.gate.active == 0)


def test_request_timeout_is_504_and_frees_its_slot(served: Any) -> None:
    ctx = served.ctx
    limits = ctx.limits
    ctx.limits = limits.model_copy(update={"request_timeout_s": 0.3})
    try:
        with ctx.pool.lock:
            _error(post(served, ask("kc-acme:compiled")), 504, "timeout")
        _wait(lambda: ctx.gate.active == 0)
    finally:
        ctx.limits = limits
    assert post(served, ask("kc-acme:compiled")).status_code == 200


def test_access_log_is_json_without_prompt_text(served: Any, caplog: Any) -> None:
    secret = "What is the launch codeword for project nightjar?"
    with caplog.at_level(logging.INFO, logger="kc.serve.access"):
        assert post(served, ask("kc-acme:rag", question=secret)).status_code == 200
        assert post(served, ask("kc-globex:rag", question=secret)).status_code == 403
        _wait(lambda: len([r for r in caplog.records if r.name == "kc.serve.access"]) >= 2)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kc.serve.access"]
    assert [(x["status"], x["user"], x["model"]) for x in lines[-2:]] == [
        (200, "alice", "kc-acme:rag"), (403, "alice", "kc-globex:rag")]
    assert set(lines[-1]) == {"method", "path", "status", "user", "model", "latency_ms",
                              "response_bytes"}
    assert all("nightjar" not in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- two tenants at once
def _mixed_requests(served: Any, expected: dict, n: int, workers: int = 8) -> dict[str, int]:
    rng = random.Random(19)
    users = [("alice", ALICE_KEY, "acme"), ("bob", BOB_KEY, "globex"),
             ("carol", CAROL_KEY, "acme"), ("carol", CAROL_KEY, "globex")]
    plan = [(rng.choice(users), rng.choice(["rag", "compiled", "hybrid"]), rng.choice(QUESTIONS))
            for _ in range(n)]

    def one(item: tuple) -> tuple[bool, bool]:
        (_, key, tenant), arm, question = item
        model = f"kc-{tenant}" + ("" if arm == "hybrid" else f":{arm}")
        response = post(served, {"model": model, "messages": [
            {"role": "user", "content": question}], "max_tokens": ANSWER_TOKENS}, key=key)
        assert response.status_code == 200, response.text
        reply = response.json()
        want = expected[tenant, arm, question]
        cited = reply["kc"]["citations"]
        foreign = any(c["source"] != f"{tenant}-docs" for c in cited)
        wrong = (reply["choices"][0]["message"]["content"] != want.text
                 or [c["chunk_id"] for c in cited] != [c["chunk_id"] for c in want.citations])
        return foreign, wrong

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, plan))
    return {"requests": len(results), "foreign_citations": sum(f for f, _ in results),
            "wrong_answers": sum(w for _, w in results),
            "tenants": len({p[0][2] for p in plan})}


def test_two_tenants_concurrently_never_cross(served: Any, expected: dict) -> None:
    # 4 in flight at most (the gate's limit): 4 client threads never hit a 429.
    got = _mixed_requests(served, expected, 200, workers=4)
    assert got == {"requests": 200, "foreign_citations": 0, "wrong_answers": 0, "tenants": 2}


@pytest.mark.slow
def test_two_tenants_thousand_requests(served: Any, expected: dict) -> None:
    got = _mixed_requests(served, expected, 1000, workers=4)
    assert got == {"requests": 1000, "foreign_citations": 0, "wrong_answers": 0, "tenants": 2}


# ---------------------------------------------------------------- champions from MLflow
def register_adapter(adapter: Path, base: Path, tenant: str) -> str:
    """Log and register an adapter as the pipeline does; returns its version."""
    import mlflow

    from training import registry
    from training.mlflow_model import log_adapter

    with mlflow.start_run() as run:
        log_adapter(adapter, base_model=str(base), max_new_tokens=ANSWER_TOKENS)
    version = registry.register_version(
        run.info.run_id, "adapter", registry.registered_name(tenant),
        registry.Lineage("c", "q", "m", "g", "tiny", "b", "sft", tenant, (f"doc-{tenant}",)))
    return str(version.version)


@pytest.fixture(scope="module")
def tracking(world: dict[str, Any]) -> Iterator[Any]:
    import mlflow

    from training import registry

    store = registry.Tracking.local(world["root"] / "kc")
    store.activate()
    yield store
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")


def test_champions_from_registry_and_reload_after_promotion(world: dict[str, Any],
                                                            tracking: Any) -> None:
    from knowledge_compiler.serve import ServeContext, create_app
    from training import registry

    root, base = world["root"], world["base"]
    assert register_adapter(world["adapters"]["acme"], base, "acme") == "1"
    assert register_adapter(world["adapters"]["globex"], base, "globex") == "1"
    newer = make_adapter(base, root / "adapter-acme-v2", seed=7)
    assert register_adapter(newer, base, "acme") == "2"  # waits for the gate: v1 stays champion
    ctx = ServeContext.from_registry(settings_for(), base, world["index"], environ=ENVIRON)
    assert {t: a.version for t, a in ctx.pool.adapters.items()} == {"acme": "1", "globex": "1"}
    question = QUESTIONS[0]
    arm_settings = reference_settings(settings_for())
    want = {k: answer_questions([question], "compiled", AnsweringModel.load(base, f),
                                settings=arm_settings)[0].text
            for k, f in (("v1", world["adapters"]["acme"]), ("v2", newer))}
    assert want["v1"] != want["v2"]
    with Server(create_app(ctx)) as server:
        openai = client(server, CAROL_KEY)

        def served_answer() -> tuple[str, str]:
            reply = openai.chat.completions.create(
                model="kc-acme:compiled", messages=[{"role": "user", "content": question}],
                max_tokens=ANSWER_TOKENS)
            return reply.choices[0].message.content, reply.kc["adapter_version"]

        assert served_answer() == (want["v1"], "1")
        registry.promote("kc-acme", "2", reason="test")
        reloaded = post(server, {}, key=CAROL_KEY, path="/admin/reload")
        assert reloaded.status_code == 200
        assert reloaded.json() == {"served": {"acme": "2", "globex": "1"}}
        assert served_answer() == (want["v2"], "2")
        assert len(ctx.pool.model.peft_config) == 2  # the replaced adapter was deleted


# ---------------------------------------------------------------- configuration
def test_keys_are_referenced_never_written_in_the_config() -> None:
    from knowledge_compiler.serving.auth import ApiKeys

    settings = settings_for()
    keys = ApiKeys.from_config(settings.serve.api_keys, ENVIRON, set(settings.users))
    assert [keys.user_for(k) for k in (ALICE_KEY, BOB_KEY, CAROL_KEY, "nope", None, "")] == [
        "alice", "bob", "carol", None, None, None]
    with pytest.raises(ConfigError, match="KC_TEST_ALICE_KEY is unset"):
        ApiKeys.from_config(settings.serve.api_keys, {"KC_TEST_CAROL_KEY": CAROL_KEY})
    with pytest.raises(ConfigError, match=r"serve\.api_keys\.dave: not a user"):
        ApiKeys.from_config({"dave": {"key_sha256": "0" * 64}}, {}, {"alice"})
    for entry, message in (({"key_env": ALICE_KEY}, "NAME of an environment variable"),
                           ({"key_sha256": "abc"}, "64 lower-case hex"),
                           ({"key_env": "A", "key_sha256": "0" * 64}, "exactly one"),
                           ({"key": ALICE_KEY}, "key_env")):
        with pytest.raises(ValueError, match=message):
            settings_for(api_keys={"alice": entry})


def test_serve_refuses_to_start_without_keys(world: dict[str, Any]) -> None:
    from knowledge_compiler.serve import ServeContext

    with pytest.raises(ConfigError, match=r"serve.api_keys is empty"):
        ServeContext.from_adapters(settings_for(api_keys={}), world["base"], {})


def test_cli_has_serve() -> None:
    from knowledge_compiler.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "8123"])
    assert (args.command, args.port, args.host) == ("serve", 8123, None)
