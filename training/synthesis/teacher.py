"""Teacher-model generation behind the `Generator` interface.

Two backends: an OpenAI-compatible chat endpoint (`OpenAIChatBackend`, over httpx) and a local
Hugging Face model (`HFPipelineBackend`, a transformers text-generation pipeline). Responses
are cached in `qa.teacher_cache` by (chunk content hash, prompt version, teacher id); requests
are rate-limited and retried with exponential backoff on 429, 5xx, timeouts and connection
errors. A chunk whose request fails or whose reply is not valid JSON is counted as failed
(and, with a fallback generator, still gets offline data); the run goes on.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import httpx

from training.synthesis.config import SynthesisConfig
from training.synthesis.generator import Generator, OfflineGenerator
from training.synthesis.models import (
    Chunk,
    ChunkSynthesis,
    Fact,
    Note,
    QAPair,
    fact_id_for,
    stable_id,
)
from training.synthesis.normalize import clean, has_placeholder, strip_answer
from training.synthesis.prompts import PROMPT_VERSION, build_messages
from training.synthesis.store import ensure_schema, now


class TeacherError(RuntimeError):
    """A request the teacher refused for good (bad request, auth): retrying will not help."""


class TransientTeacherError(TeacherError):
    """Rate limited, server error, timeout or no connection: worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class TeacherConfig:
    """Where the teacher is and how hard to push it."""

    base_url: str = field(default="", metadata={
        "help": "OpenAI-compatible API root, e.g. http://localhost:8000/v1 (chat/completions "
                "is appended). Leave empty to use local_model_path."})
    model: str = field(default="", metadata={"help": "Model name sent to the endpoint."})
    api_key_env: str | None = field(default=None, metadata={
        "help": "NAME of the environment variable holding the API key (never the key)."})
    local_model_path: str | None = field(default=None, metadata={
        "help": "Folder of a local Hugging Face causal LM, used instead of base_url."})
    timeout_s: float = field(default=60.0, metadata={"help": "Seconds per request."})
    max_retries: int = field(default=4, metadata={
        "help": "Retries after the first attempt on 429/5xx/timeouts; then the chunk fails."})
    backoff_s: float = field(default=1.0, metadata={
        "help": "First retry delay; doubles each retry (a Retry-After header wins)."})
    max_backoff_s: float = field(default=30.0, metadata={"help": "Longest retry delay."})
    requests_per_minute: float = field(default=60.0, metadata={
        "help": "Rate limit on requests to the teacher."})
    temperature: float = field(default=0.2, metadata={"help": "Sampling temperature."})
    max_facts_per_chunk: int = field(default=12, metadata={
        "help": "Most facts asked for per chunk."})
    json_mode: bool = field(default=True, metadata={
        "help": "Send response_format={'type': 'json_object'} (turn off for servers without it)."})
    fallback_offline: bool = field(default=True, metadata={
        "help": "Give a chunk whose teacher call failed the offline generator's data instead "
                "of nothing (the chunk still counts as failed)."})

    def __post_init__(self) -> None:
        errors = []
        if bool(self.base_url) == bool(self.local_model_path):
            errors.append("set exactly one of base_url and local_model_path")
        if self.base_url and not self.model:
            errors.append("model is required with base_url")
        if self.requests_per_minute <= 0:
            errors.append("requests_per_minute must be positive")
        if self.max_retries < 0 or self.backoff_s < 0 or self.timeout_s <= 0:
            errors.append("max_retries and backoff_s must be >= 0, timeout_s > 0")
        if self.max_facts_per_chunk < 1:
            errors.append("max_facts_per_chunk must be at least 1")
        if errors:
            raise ValueError("invalid TeacherConfig: " + "; ".join(errors))


class ChatBackend(Protocol):
    teacher_id: str

    def complete(self, messages: list[dict[str, str]]) -> str: ...


class OpenAIChatBackend:
    """POST {base_url}/chat/completions; 429/5xx/timeouts raise TransientTeacherError."""

    def __init__(self, config: TeacherConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.teacher_id = f"openai:{config.model}"
        headers = {"Content-Type": "application/json"}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ValueError(f"teacher API key: environment variable {config.api_key_env} "
                                 f"is not set; export it or clear api_key_env")
            headers["Authorization"] = f"Bearer {key}"
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.client = client or httpx.Client(timeout=config.timeout_s, headers=headers)

    def complete(self, messages: list[dict[str, str]]) -> str:
        body: dict[str, Any] = {"model": self.config.model, "messages": messages,
                                "temperature": self.config.temperature}
        if self.config.json_mode:
            body["response_format"] = {"type": "json_object"}
        try:
            response = self.client.post(self.url, json=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransientTeacherError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientTeacherError(f"HTTP {response.status_code}",
                                        _retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            raise TeacherError(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TeacherError(f"unexpected response shape: {response.text[:200]}") from exc

    def close(self) -> None:
        self.client.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class HFPipelineBackend:
    """A local Hugging Face model through a transformers text-generation pipeline."""

    def __init__(self, model_path: str | Path, max_new_tokens: int = 1024) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise FileNotFoundError(f"teacher model folder {path} does not exist: download the "
                                    f"model there or set base_url for an HTTP teacher")
        self.path = path
        self.max_new_tokens = max_new_tokens
        self.teacher_id = f"hf:{path.name}"
        self._pipe: Any = None

    def complete(self, messages: list[dict[str, str]]) -> str:
        if self._pipe is None:
            from transformers import pipeline  # heavy: only when a local teacher is used

            self._pipe = pipeline("text-generation", model=str(self.path))
        out = self._pipe(messages, max_new_tokens=self.max_new_tokens, do_sample=False,
                         return_full_text=False)
        text = out[0]["generated_text"]
        return text if isinstance(text, str) else text[-1]["content"]


class RateLimiter:
    """At most `per_minute` calls per minute, spaced evenly."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / per_minute
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0

    def wait(self) -> None:
        delay = self.next_at - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.next_at = max(self.clock(), self.next_at) + self.interval


def parse_reply(raw: str) -> list[dict[str, Any]]:
    """The `facts` list of a teacher reply; ValueError when it is not the JSON asked for."""
    text = raw.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in reply")
    data = json.loads(text[start:end + 1])
    facts = data.get("facts") if isinstance(data, dict) else None
    if not isinstance(facts, list):
        raise ValueError("reply has no 'facts' list")
    return facts


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [clean(v) for v in value if isinstance(v, str) and clean(v)]


def teacher_backend(config: TeacherConfig) -> ChatBackend:
    """The endpoint when `base_url` is set, else the local model folder."""
    return (OpenAIChatBackend(config) if config.base_url
            else HFPipelineBackend(str(config.local_model_path)))


class TeacherGenerator:
    """Asks a teacher model for facts, questions and notes per chunk (see module docstring)."""

    def __init__(self, config: TeacherConfig, synthesis: SynthesisConfig | None = None,
                 backend: ChatBackend | None = None, fallback: Generator | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 limiter: RateLimiter | None = None) -> None:
        self.config = config
        self.synthesis = synthesis or SynthesisConfig()
        self.backend = backend = backend or teacher_backend(config)
        self.generator_id = f"teacher:{backend.teacher_id}"
        if fallback is None and config.fallback_offline:
            fallback = OfflineGenerator(self.synthesis)
        self.fallback = fallback
        self.sleep = sleep
        self.limiter = limiter or RateLimiter(config.requests_per_minute)
        self.requests = 0
        self._con: duckdb.DuckDBPyConnection | None = None

    def fingerprint(self) -> str:
        return f"{PROMPT_VERSION}:{self.synthesis.fingerprint()}:{self.config.max_facts_per_chunk}"

    def use_warehouse(self, con: duckdb.DuckDBPyConnection) -> None:
        """Cache replies in `qa.teacher_cache` of this warehouse."""
        ensure_schema(con)
        self._con = con

    def _cached(self, chunk: Chunk) -> str | None:
        if self._con is None:
            return None
        row = self._con.execute(
            "select response from qa.teacher_cache where content_sha = ? and prompt_version = ? "
            "and teacher_id = ?", [chunk.content_sha, PROMPT_VERSION, self.backend.teacher_id]
        ).fetchone()
        return row[0] if row else None

    def _store(self, chunk: Chunk, raw: str) -> None:
        if self._con is not None:
            self._con.execute("insert or replace into qa.teacher_cache values (?, ?, ?, ?, ?)",
                              [chunk.content_sha, PROMPT_VERSION, self.backend.teacher_id, raw,
                               now()])

    def _request(self, chunk: Chunk) -> str:
        messages = build_messages(chunk, self.synthesis, self.config.max_facts_per_chunk)
        for attempt in range(self.config.max_retries + 1):
            self.limiter.wait()
            self.requests += 1
            try:
                return self.backend.complete(messages)
            except TransientTeacherError as exc:
                if attempt == self.config.max_retries:
                    raise
                delay = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** attempt)
                if exc.retry_after is not None:
                    delay = min(self.config.max_backoff_s, exc.retry_after)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def generate(self, chunk: Chunk) -> ChunkSynthesis:
        raw = self._cached(chunk)
        failures: list[str] = []
        items: list[dict[str, Any]] = []
        try:
            if raw is None:
                raw = self._request(chunk)
                fresh = True
            else:
                fresh = False
            items = parse_reply(raw)
            if fresh:
                self._store(chunk, raw)  # only replies that parse are worth keeping
        except TransientTeacherError as exc:
            failures.append(f"teacher_unavailable: {exc} after {self.config.max_retries + 1} "
                            f"attempts")
        except TeacherError as exc:
            failures.append(f"teacher_error: {exc}")
        except (ValueError, json.JSONDecodeError) as exc:
            failures.append(f"malformed_json: {exc}")
        if failures:
            result = self.fallback.generate(chunk) if self.fallback else ChunkSynthesis()
            result.failures = failures
            return result
        return self._build(chunk, items)

    def _build(self, chunk: Chunk, items: list[dict[str, Any]]) -> ChunkSynthesis:
        result = ChunkSynthesis()
        for n, item in enumerate(items[:self.config.max_facts_per_chunk]):
            if not isinstance(item, dict) or not isinstance(item.get("answer"), str):
                result.failures.append(f"invalid_item: fact {n} has no answer")
                continue
            answer = strip_answer(item["answer"])
            questions = _strings(item.get("questions"))
            heldout = _strings(item.get("heldout_questions"))
            if not answer or not questions or has_placeholder(answer):
                result.failures.append(f"invalid_item: fact {n} lacks questions or answer")
                continue
            subject = clean(str(item.get("subject") or questions[0]))
            relation = clean(str(item.get("relation") or "answer"))
            fid = fact_id_for(chunk.chunk_id, "teacher", subject, relation, answer)
            result.facts.append(Fact(
                fact_id=fid, chunk_id=chunk.chunk_id, document_id=chunk.document_id,
                tenant=chunk.tenant, kind="teacher", subject=subject, relation=relation,
                answer=answer, evidence=clean(str(item.get("evidence") or "")),
                section=chunk.section, question=questions[0], context=chunk.context,
                path=chunk.path, content_hash=chunk.content_hash,
                version_number=chunk.version_number))
            for heldout_flag, texts in ((False, questions), (True, heldout)):
                for i, text in enumerate(texts):
                    family = f"teacher.{'heldout' if heldout_flag else 'train'}.{i}"
                    result.pairs.append(QAPair(
                        pair_id=stable_id("pair", fid, family, text), fact_id=fid,
                        chunk_id=chunk.chunk_id, document_id=chunk.document_id,
                        tenant=chunk.tenant, question=text, answer=answer, family=family,
                        heldout=heldout_flag, generator_id=self.generator_id,
                        content_hash=chunk.content_hash, version_number=chunk.version_number,
                        path=chunk.path, section=chunk.section))
            for i, text in enumerate(_strings(item.get("notes"))):
                result.notes.append(Note(
                    note_id=stable_id("note", fid, i, text), fact_id=fid,
                    chunk_id=chunk.chunk_id, document_id=chunk.document_id, tenant=chunk.tenant,
                    text=text, family=f"teacher.note.{i}", generator_id=self.generator_id,
                    content_hash=chunk.content_hash, version_number=chunk.version_number))
        return result
