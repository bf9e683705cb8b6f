"""`kc serve` latency and throughput against answering in-process, memory per adapter, and
the cost of switching adapters.

- Served: a `kc serve` app (uvicorn, its own process, one torch thread) with two tenants'
  adapters over one base, asked through HTTP by 1, 4 and 16 concurrent clients (httpx, one
  thread each), non-streaming, every request a different tenant than the last with some
  probability (mixed: the adapter switches). Arms: compiled (closed-book) and rag (k=3 chunks
  of a hashing index).
- In-process: `answering.answer_questions` on the same questions, one question at a
  time with the tenant's adapter (what `kc ask` does, minus loading), same thread count.
  ratio = served p50 / in-process p50 at one client: the serving overhead (HTTP, JSON,
  auth, the worker hand-off). With more clients the server answers one at a time (one model,
  one lock), so requests/s stays near the in-process rate and the latency grows with the queue.
- Peak RSS (ru_maxrss) of a process holding the base and 1 or 10 adapters, after answering
  one question with each.
- Adapter switch: `set_adapter` between two loaded adapters, and one compiled answer after a
  switch against one without.

Defaults to the tiny random Llama of the tests (SmolLM2's tokenizer; 2 layers of width 64)
with rank-8 adapters on q_proj/v_proj: the figures then measure the serving machinery, not a
model. `--base smollm2-135m-instruct` (or a folder) measures a real base.

Run: ``python -m benchmarks.serve_latency [--base NAME_OR_DIR] [--requests 48] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import markdown_table, percentile, publish, result_row
from settings.offline import apply_offline_defaults

apply_offline_defaults()

TENANTS = ("acme", "globex")
KEYS = {"acme": "bench-acme-key-0123456789", "globex": "bench-globex-key-0123456789"}
ANSWER_TOKENS = 16
TOPICS = ("gateway", "relay", "billing", "quota", "release", "backup", "vpn", "payroll",
          "search", "audit", "oncall", "storage")


def _chunks(per_tenant: int = 120) -> list[dict[str, Any]]:
    rng = random.Random(19)
    rows = []
    for tenant in TENANTS:
        for i in range(per_tenant):
            topic = TOPICS[i % len(TOPICS)]
            rows.append({"chunk_id": f"{tenant}-{i}", "document_id": f"d-{tenant}-{i}",
                         "tenant": tenant, "acl_groups": [tenant], "route": "volatile",
                         "source_id": f"{tenant}-docs", "path": f"{topic}/{i}.md",
                         "section": topic.title(),
                         "text": f"The {topic} service {i} is owned by team {rng.randrange(99)} "
                                 f"and listens on port {8000 + rng.randrange(999)}; its runbook "
                                 f"says to page the {topic} rota after {rng.randrange(2, 30)} "
                                 "minutes of errors."})
    return rows


def _questions(n: int = 24) -> list[str]:
    rng = random.Random(7)
    return [f"Which port does the {rng.choice(TOPICS)} service {rng.randrange(120)} listen on?"
            for _ in range(n)]


def _settings(max_concurrent: int = 32) -> Any:
    from settings.config import Settings

    return Settings.model_validate({
        "sources": [{"name": f"{t}-docs", "type": "documents", "path": f"/nonexistent/{t}",
                     "tenant": t, "acl_groups": [t]} for t in TENANTS],
        "users": {t: {"groups": [t]} for t in TENANTS},
        "serve": {"api_keys": {t: {"key_env": f"BENCH_{t.upper()}_KEY"} for t in TENANTS},
                  "max_concurrent_requests": max_concurrent, "max_new_tokens": ANSWER_TOKENS,
                  "generation_timeout_s": 600, "request_timeout_s": 600},
        "evaluation": {"k": 3}})


def _environ() -> dict[str, str]:
    return {f"BENCH_{t.upper()}_KEY": KEYS[t] for t in TENANTS}


def prepare(work: Path, base: str | None, n_adapters: int = 10) -> dict[str, Any]:
    """The base folder, `n_adapters` adapters and the index, under `work`."""
    import torch
    from peft import LoraConfig, get_peft_model

    from retrieval import ChunkIndex, HashingEmbedder
    from training.base_model import load_causal_lm, resolve_model_path

    if base is None:
        from tests.training.test_base_support import tiny_llama_dir

        base_path = tiny_llama_dir(work / "base", window=512)
        label = "tiny random Llama (2 layers, width 64)"
    else:
        base_path = resolve_model_path(base, work / "models")
        label = str(base)
    adapters = []
    for i in range(n_adapters):
        model, _ = load_causal_lm(base_path)
        torch.manual_seed(100 + i)
        peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16,
                                                target_modules=["q_proj", "v_proj"],
                                                task_type="CAUSAL_LM", init_lora_weights=False))
        peft.save_pretrained(work / f"adapter-{i}")
        adapters.append(str(work / f"adapter-{i}"))
    ChunkIndex(work / "lancedb", embedder=HashingEmbedder(dim=64)).sync(_chunks())
    return {"base": str(base_path), "label": label, "adapters": adapters,
            "index": str(work / "lancedb")}


def _index(path: str) -> Any:
    from retrieval import ChunkIndex, HashingEmbedder

    return ChunkIndex(Path(path), embedder=HashingEmbedder(dim=64))


# ---------------------------------------------------------------- child processes
def _serve_child(world: dict[str, Any], port: int, threads: int) -> None:
    import torch
    import uvicorn

    from knowledge_compiler.serve import ServeContext, create_app

    torch.set_num_threads(threads)
    ctx = ServeContext.from_adapters(_settings(), world["base"],
                                     dict(zip(TENANTS, world["adapters"], strict=False)),
                                     _index(world["index"]), environ=_environ())
    uvicorn.run(create_app(ctx), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def _memory_child(world: dict[str, Any], n: int, threads: int, out: Any) -> None:
    import psutil
    import torch

    from answering import answer_questions
    from knowledge_compiler.serving.adapters import AdapterPool

    torch.set_num_threads(threads)
    pool = AdapterPool(world["base"])
    with pool.use(None) as bundle:  # the base alone, warmed up
        answer_questions(["Which port does the relay listen on?"], "compiled", bundle)
    before = psutil.Process().memory_info().rss
    for i in range(n):
        pool.load(f"t{i}", world["adapters"][i])
    for i in range(n):
        with pool.use(f"t{i}") as bundle:
            answer_questions(["Which port does the relay listen on?"], "compiled", bundle)
    size = sum(f.stat().st_size for a in world["adapters"][:n] for f in Path(a).iterdir())
    out.put({"adapters": n, "adapter_files_mib": round(size / 2**20, 2),
             "rss_base_mib": round(before / 2**20, 1),
             "rss_with_adapters_mib": round(psutil.Process().memory_info().rss / 2**20, 1),
             "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def peak_memory(world: dict[str, Any], threads: int) -> list[dict[str, Any]]:
    spawn = mp.get_context("spawn")
    rows = []
    for n in (1, 10):
        queue = spawn.Queue()
        child = spawn.Process(target=_memory_child, args=(world, n, threads, queue))
        child.start()
        rows.append(queue.get(timeout=600))
        child.join(60)
    return rows


# ---------------------------------------------------------------- measurements
def in_process(world: dict[str, Any], questions: list[str], arm: str, threads: int,
               plan: list[str]) -> list[float]:
    """Per-question latency of `answer_questions` with the tenant's adapter, in order."""
    import torch

    from answering import ArmSettings, answer_questions
    from knowledge_compiler.serving.adapters import AdapterPool
    from retrieval.access import Principal

    torch.set_num_threads(threads)
    pool = AdapterPool(world["base"])
    for tenant, adapter in zip(TENANTS, world["adapters"], strict=False):
        pool.load(tenant, adapter)
    index = _index(world["index"])
    settings = ArmSettings(k=3, max_new_tokens=ANSWER_TOKENS, batch_size=1)
    times = []
    for question, tenant in zip(questions, plan, strict=True):
        principal = Principal(user=tenant, groups=frozenset({tenant}),
                              tenants=frozenset({tenant}))
        started = time.perf_counter()
        with pool.use(tenant) as bundle:
            answer_questions([question], arm, bundle, index, principal, settings)
        times.append(time.perf_counter() - started)
    return times


def served(url: str, questions: list[str], arm: str, clients: int,
           plan: list[str]) -> tuple[list[float], float]:
    """Latencies of the requests and the wall time, `clients` requests in flight."""
    import threading

    import httpx

    local = threading.local()  # one keep-alive connection per client thread

    def one(item: tuple[str, str]) -> float:
        question, tenant = item
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=600)
        started = time.perf_counter()
        response = local.http.post("/v1/chat/completions",
                                   headers={"Authorization": f"Bearer {KEYS[tenant]}"},
                                   json={"model": f"kc-{tenant}:{arm}",
                                         "max_tokens": ANSWER_TOKENS,
                                         "messages": [{"role": "user", "content": question}]})
        response.raise_for_status()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(one, zip(questions, plan, strict=True)))
    return times, time.perf_counter() - started


def switch_cost(world: dict[str, Any], threads: int, repeat: int = 200) -> dict[str, float]:
    """set_adapter between two adapters (µs), and a compiled answer right after a switch
    against one with the same adapter (ms, medians)."""
    import torch

    from answering import ArmSettings, answer_questions
    from knowledge_compiler.serving.adapters import AdapterPool

    torch.set_num_threads(threads)
    pool = AdapterPool(world["base"])
    for tenant, adapter in zip(TENANTS, world["adapters"], strict=False):
        pool.load(tenant, adapter)
    model = pool.model
    names = [pool.adapters[t].peft_name for t in TENANTS]
    flips = []
    for i in range(repeat):
        started = time.perf_counter()
        model.set_adapter(names[i % 2], inference_mode=True)
        flips.append(time.perf_counter() - started)
    settings = ArmSettings(max_new_tokens=ANSWER_TOKENS, batch_size=1)
    question = ["Which port does the relay listen on?"]

    def answer_after(tenants: list[str]) -> float:
        times = []
        for tenant in tenants:
            started = time.perf_counter()
            with pool.use(tenant) as bundle:
                answer_questions(question, "compiled", bundle, settings=settings)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    same = answer_after(["acme"] * 20)
    switched = answer_after(["acme", "globex"] * 10)
    return {"set_adapter_us": statistics.median(flips) * 1e6, "answer_same_ms": same * 1000,
            "answer_switched_ms": switched * 1000}


def _wait(url: str, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a base name or folder (default: the tiny random Llama)")
    parser.add_argument("--requests", type=int, default=48, help="requests per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--publish", action="store_true",
                        help="write benchmarks/out/serve_latency.json for RESULTS.md (make bench)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kc-serve-bench-") as tmp:
        world = prepare(Path(tmp), args.base)
        base_questions = _questions()
        questions = [base_questions[i % len(base_questions)] for i in range(args.requests)]
        rng = random.Random(3)
        plan = [rng.choice(TENANTS) for _ in questions]  # mixed tenants: adapters switch
        rows = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = mp.get_context("spawn").Process(target=_serve_child,
                                                 args=(world, port, args.threads))
        server.start()
        try:
            _wait(url)
            for arm in ("compiled", "rag"):
                served(url, questions[:4], arm, 1, plan[:4])  # warm-up
                local = in_process(world, questions, arm, args.threads, plan)
                local_p50 = percentile(local, 0.5)
                local_rps = len(local) / sum(local)
                for clients in (1, 4, 16):
                    times, wall = served(url, questions, arm, clients, plan)
                    p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
                    rows.append(result_row(
                        "serve_latency", f"in-process answer_questions ({arm})",
                        round(p50 * 1000, 1), round(local_p50 * 1000, 1), "ms p50",
                        round(p50 / local_p50, 2), "context (overhead at 1 client)", None,
                        arm=arm, clients=clients, requests=len(times),
                        served_rps=round(len(times) / wall, 2),
                        in_process_rps=round(local_rps, 2),
                        served_p95_ms=round(p95 * 1000, 1),
                        in_process_p95_ms=round(percentile(local, 0.95) * 1000, 1)))
        finally:
            server.terminate()
            server.join(30)
        memory = peak_memory(world, args.threads)
        switch = switch_cost(world, args.threads)
    print(f"base: {world['label']}; {args.requests} requests per row; {ANSWER_TOKENS} answer "
          f"tokens; torch threads {args.threads}\n")
    print(markdown_table(rows, ["arm", "clients", "ours", "served_p95_ms", "served_rps",
                                "theirs", "in_process_p95_ms", "in_process_rps", "ratio"]))
    print(markdown_table(memory, list(memory[0])))
    print(markdown_table([switch], list(switch)))
    if args.json:
        args.json.write_text(json.dumps({"base": world["label"], "rows": rows,
                                         "memory": memory, "switch": switch}, indent=2))
    if args.publish:
        notes = (f"kc serve over HTTP against in-process answer_questions on the same questions "
                 f"(mixed tenants, adapters switched per request); base: {world['label']}; "
                 f"{args.requests} requests a row, {ANSWER_TOKENS} answer tokens, torch threads "
                 f"{args.threads}. Peak RSS: " + "; ".join(
                     f"{json.dumps(m)}" for m in memory) + f". Adapter switch: {json.dumps(switch)}"
                 ". The ratio is served p50 / in-process p50 (serving overhead); more clients "
                 "queue behind one model, so their latency grows with the queue.")
        publish("serve_latency", rows, notes=notes)


if __name__ == "__main__":
    main()
