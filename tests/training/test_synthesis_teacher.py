"""The teacher generator against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import duckdb
import pytest

from tests.training import synthesis_fixtures as fx
from training.synthesis import synthesize_tenant
from training.synthesis.models import Chunk
from training.synthesis.prompts import PROMPT_VERSION
from training.synthesis.teacher import (
    HFPipelineBackend,
    OpenAIChatBackend,
    RateLimiter,
    TeacherConfig,
    TeacherGenerator,
    parse_reply,
)

GOOD_REPLY = {"facts": [{
    "subject": "security logs", "relation": "retention", "answer": "400 days",
    "evidence": "Security logs are retained for 400 days.",
    "questions": ["How long are security logs kept?", "What is the retention of security logs?",
                  "Name the security log retention.", "Security logs are kept for how long?",
                  "For how many days are security logs retained?"],
    "heldout_questions": ["Could you say how long security logs stay around?"],
    "notes": ["Security logs are kept for 400 days.", "The log retention is 400 days.",
              "After 400 days security logs are deleted."]}]}

# Which scripted behaviour a chunk gets is chosen by a marker in its text.
SCRIPTS = {
    "CASE-GOOD": ["good"],
    "CASE-MALFORMED": ["malformed"],
    "CASE-429": ["429", "good"],
    "CASE-500": ["500", "good"],
    "CASE-DOWN": ["500"] * 10,
}


class Teacher(BaseHTTPRequestHandler):
    calls: ClassVar[dict[str, int]] = defaultdict(int)
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Teacher.bodies.append({"path": self.path, "auth": self.headers.get("Authorization"),
                               **body})
        text = body["messages"][-1]["content"]
        case = next((c for c in SCRIPTS if c in text), "CASE-GOOD")
        step = SCRIPTS[case][min(Teacher.calls[case], len(SCRIPTS[case]) - 1)]
        Teacher.calls[case] += 1
        if step in {"429", "500"}:
            self.send_response(int(step))
            if step == "429":
                self.send_header("Retry-After", "0.01")
            self.end_headers()
            return
        content = json.dumps(GOOD_REPLY) if step == "good" else '{"facts": [ {"answer": '
        payload = json.dumps({"choices": [{"message": {"role": "assistant",
                                                       "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Teacher.calls.clear()
    Teacher.bodies.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Teacher)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def teacher(url: str, sleeps: list[float], **overrides: object) -> TeacherGenerator:
    config = TeacherConfig(base_url=url, model="tiny-teacher", max_retries=2, backoff_s=0.5,
                           requests_per_minute=6000, **overrides)
    return TeacherGenerator(config, sleep=sleeps.append)


def chunk(case: str) -> Chunk:
    return Chunk(f"c-{case}", "d1", "acme", f"Security logs are retained for 400 days. {case}",
                 section="Security", path="security.md")


def test_good_reply_becomes_facts_pairs_and_notes_and_is_cached(server, tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    gen = teacher(server, [])
    gen.use_warehouse(con)
    result = gen.generate(chunk("CASE-GOOD"))
    assert result.failures == []
    assert [(f.kind, f.answer) for f in result.facts] == [("teacher", "400 days")]
    assert (sum(not p.heldout for p in result.pairs), sum(p.heldout for p in result.pairs),
            len(result.notes)) == (5, 1, 3)
    assert {p.generator_id for p in result.pairs} == {"teacher:openai:tiny-teacher"}
    body = Teacher.bodies[0]
    assert (body["path"], body["model"], body["response_format"]) == (
        "/v1/chat/completions", "tiny-teacher", {"type": "json_object"})
    assert rows_of(con, "select prompt_version, teacher_id from qa.teacher_cache") == [
        (PROMPT_VERSION, "openai:tiny-teacher")]
    again = gen.generate(chunk("CASE-GOOD"))
    assert gen.requests == 1 and Teacher.calls["CASE-GOOD"] == 1
    assert again.to_payload() == result.to_payload()


def rows_of(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_malformed_json_fails_the_chunk_and_falls_back(server) -> None:
    gen = teacher(server, [])
    result = gen.generate(chunk("CASE-MALFORMED"))
    assert len(result.failures) == 1 and result.failures[0].startswith("malformed_json")
    assert [f.kind for f in result.facts] == ["sentence"]  # the offline fallback's fact
    no_fallback = teacher(server, [], fallback_offline=False)
    empty = no_fallback.generate(chunk("CASE-MALFORMED"))
    assert empty.failures and not empty.facts and not empty.pairs


def test_429_then_success_honours_retry_after(server) -> None:
    sleeps: list[float] = []
    result = teacher(server, sleeps).generate(chunk("CASE-429"))
    assert result.failures == [] and result.facts
    assert Teacher.calls["CASE-429"] == 2
    assert sleeps == [0.01]


def test_500_then_success_backs_off(server) -> None:
    sleeps: list[float] = []
    result = teacher(server, sleeps).generate(chunk("CASE-500"))
    assert result.failures == [] and result.facts
    assert Teacher.calls["CASE-500"] == 2
    assert sleeps == [0.5]


def test_persistent_500_gives_up_after_the_retries(server) -> None:
    sleeps: list[float] = []
    result = teacher(server, sleeps).generate(chunk("CASE-DOWN"))
    assert Teacher.calls["CASE-DOWN"] == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff between the three attempts
    assert result.failures == ["teacher_unavailable: HTTP 500 after 3 attempts"]


def test_one_failing_chunk_does_not_stop_the_run(server, tmp_path) -> None:
    con = fx.make_warehouse(str(tmp_path / "w.duckdb"), [
        fx.Doc("d1", "acme", "static", "a.md", (("A", "Security logs are retained for 400 "
                                                      "days. CASE-GOOD"),)),
        fx.Doc("d2", "acme", "static", "b.md", (("B", "Quotes are valid for 30 days. "
                                                      "CASE-DOWN"),)),
    ])
    gen = teacher(server, [], fallback_offline=False)
    report = synthesize_tenant(con, "acme", tmp_path / "out", generator=gen)
    assert report.chunks == 2 and report.failed_chunks == 1
    assert list(report.failures.values()) == [["teacher_unavailable: HTTP 500 after 3 attempts"]]
    assert report.pairs_by_split["train"] == 5
    again = synthesize_tenant(con, "acme", tmp_path / "out", generator=gen)
    assert (again.cache_hits, again.chunks_synthesized) == (1, 1)  # the failure is retried


def test_api_key_is_read_from_the_named_variable(server, monkeypatch) -> None:
    config = TeacherConfig(base_url=server, model="m", api_key_env="KC_TEST_TEACHER_KEY")
    with pytest.raises(ValueError, match="KC_TEST_TEACHER_KEY is not set"):
        OpenAIChatBackend(config)
    monkeypatch.setenv("KC_TEST_TEACHER_KEY", "sk-test")
    TeacherGenerator(config, sleep=lambda _s: None).generate(chunk("CASE-GOOD"))
    assert Teacher.bodies[-1]["auth"] == "Bearer sk-test"


def test_local_model_path_must_exist(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HFPipelineBackend(tmp_path / "no-model")
    with pytest.raises(ValueError, match="exactly one of base_url and local_model_path"):
        TeacherConfig()


def test_rate_limiter_spaces_requests() -> None:
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(per_minute=120, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert sleeps == [0.5, 0.5]


def test_parse_reply_accepts_fenced_json_and_rejects_garbage() -> None:
    assert parse_reply('```json\n{"facts": []}\n```') == []
    for bad in ("no json here", '{"facts": {}}', '{"facts": ['):
        with pytest.raises(ValueError):
            parse_reply(bad)


def test_cache_is_per_prompt_version_and_teacher(server, tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    gen = teacher(server, [])
    gen.use_warehouse(con)
    gen.generate(chunk("CASE-GOOD"))
    other = TeacherGenerator(TeacherConfig(base_url=server, model="other-model"),
                             sleep=lambda _s: None)
    other.use_warehouse(con)
    other.generate(chunk("CASE-GOOD"))
    assert Teacher.calls["CASE-GOOD"] == 2
    assert rows_of(con, "select teacher_id from qa.teacher_cache order by 1") == [
        ("openai:other-model",), ("openai:tiny-teacher",)]
