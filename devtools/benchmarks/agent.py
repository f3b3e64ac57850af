"""The agent on its labelled task set, through the public chat API and stream of a running
agentsite: pass rate per kind, the share of turns the supervisor handed to the right
specialist, time to first token by turn, decode speed, markup leaks.

Each task is a throwaway person of its own (registered through the API), so memories and past
messages never leak from one task into another. Tasks run one after the other: on a local model
a second conversation would only queue behind the first.
"""

import contextlib
import os
import secrets
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field

import httpx

from agents import sse
from agentsite.celery import app as celery_app
from devtools.benchmarks import processes
from devtools.benchmarks.agent_tasks import (
    KINDS,
    AgentTask,
    Document,
    TurnRecord,
    check_turn,
    memory_lists,
    routed_right,
)
from devtools.benchmarks.chat_streams import percentile

PASS_TARGET = 0.85
MEMORY_TIMEOUT = 180.0
MEMORY_POLL_SECONDS = 2.0
MEMORY_TARGET_S = 60.0  # a fact told is listed this soon after its answer
TITLE_TIMEOUT = 120.0
TITLE_POLL_SECONDS = 1.0
TITLE_TARGET_S = 30.0  # a new session has its title this soon after its first answer
# A slow model's answer stays alive on the stream's pings (every 15 s), so a read may wait long.
HTTP_TIMEOUT = httpx.Timeout(15.0, read=120.0)
TURN_BUCKETS = ("1st", "2nd", "3rd+")
DOCUMENT_TIMEOUT = 120.0  # an uploaded document is parsed and embedded by the worker
ROUTING_TARGET = 0.85


class RegistrationRefused(RuntimeError):
    """The server would not register another person (its per-IP registration limit)."""


class ChatClient:
    """One throwaway person on a running agentsite, through its API."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT)
        credentials = {
            "email": f"bench-agent-{uuid.uuid4().hex[:16]}@example.com",
            "password": secrets.token_urlsafe(18),
        }
        registered = self.http.post("/api/v1/auth/register", json=credentials)
        if registered.status_code == 429:
            self.close()
            raise RegistrationRefused(
                "registration is rate limited (RATE_LIMIT_REGISTER, 10/h per IP by default): "
                "start the server with a higher RATE_LIMIT_REGISTER, or run fewer tasks"
            )
        registered.raise_for_status()
        token = self.http.post("/api/v1/auth/token", json=credentials).raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access']}"

    def close(self) -> None:
        self.http.close()

    def new_session(self) -> str:
        """An untitled session, as the chat page makes one (the worker then titles it)."""
        return self.http.post("/api/v1/sessions", json={}).raise_for_status().json()["id"]

    def upload(self, document: Document, timeout: float = DOCUMENT_TIMEOUT) -> None:
        """Upload a document and wait until the worker has made it ready."""
        files = {"file": (document.name, document.text.encode(), "text/plain")}
        created = self.http.post("/api/v1/documents", files=files).raise_for_status().json()
        deadline = time.monotonic() + timeout
        while True:
            status = self.http.get(f"/api/v1/documents/{created['id']}").json()
            if status["status"] == "ready":
                return
            if status["status"] == "failed" or time.monotonic() > deadline:
                raise RuntimeError(
                    f"document {document.name}: {status['status']} {status['error']}"
                )
            time.sleep(MEMORY_POLL_SECONDS)

    def memories(self) -> list[str]:
        response = self.http.get("/api/v1/memories", params={"page_size": 100})
        return [memory["text"] for memory in response.raise_for_status().json()["results"]]

    def wait_for_memory(self, words: tuple[str, ...], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not memory_lists(self.memories(), words):
            if time.monotonic() > deadline:
                return False
            time.sleep(MEMORY_POLL_SECONDS)
        return True

    def watch_title(self, session_id: str) -> "TitleWatch":
        """Starts timing the session's title from now (its first answer has just ended)."""
        return TitleWatch(self.http.base_url, dict(self.http.headers), session_id)

    def turn(self, session_id: str, content: str, *, session: int, index: int) -> TurnRecord:
        """Send one message on the stream and record what came back, as it came."""
        record = TurnRecord(content=content, session=session, index=index)
        parts: list[str] = []
        started = time.perf_counter()
        first_token = None
        url = f"/api/v1/sessions/{session_id}/stream"
        try:
            with self.http.stream("POST", url, json={"content": content}) as response:
                if response.status_code != 200:
                    detail = response.read().decode(errors="replace")[:300]
                    record.errors.append({"code": f"http_{response.status_code}", "detail": detail})
                    return record
                for name, data in sse.decode(response.iter_lines()):
                    if name == "token":
                        first_token = first_token or time.perf_counter()
                        parts.append(data["text"])
                    elif name == "tool_call":
                        record.tool_calls.append(
                            {"name": data["name"], "arguments": data["arguments"]}
                        )
                    elif name == "agent":
                        record.agents.append(data["name"])
                    elif name == "error":
                        record.errors.append(data)
                    elif name == "done":
                        record.done = True
                        record.completion_tokens = data["usage"].get("completion_tokens", 0)
        except httpx.TransportError as exc:  # the turn fails, the run goes on
            record.errors.append({"code": "transport", "detail": repr(exc)})
        ended = time.perf_counter()
        record.answer = "".join(parts)
        record.seconds = ended - started
        if first_token is not None:
            record.ttft = first_token - started
            record.decode_seconds = ended - first_token
        return record


class TitleWatch:
    """Polls one session until the worker has titled it, in a thread of its own (the task's
    next turns go on meanwhile), with its own connection."""

    def __init__(self, base_url, headers: dict, session_id: str):
        self.started = time.perf_counter()
        self.seconds: float | None = None  # from the first answer to the title, once seen
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=HTTP_TIMEOUT)
        self._thread = threading.Thread(target=self._poll, args=(session_id,), daemon=True)
        self._thread.start()

    def _poll(self, session_id: str) -> None:
        try:
            while time.perf_counter() - self.started < TITLE_TIMEOUT:
                session = self._http.get(f"/api/v1/sessions/{session_id}")
                if session.status_code == 200 and session.json().get("title"):
                    self.seconds = time.perf_counter() - self.started
                    return
                time.sleep(TITLE_POLL_SECONDS)
        except httpx.HTTPError:
            pass  # no figure for this session
        finally:
            self._http.close()

    def result(self) -> float | None:
        """The seconds to the title, waiting for the watch to end; None: none came in time."""
        self._thread.join()
        return self.seconds


@dataclass
class TaskResult:
    task: AgentTask
    turns: list[TurnRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # From the answer of the turn that told a fact to the memory listing it, per memory wait.
    memory_seconds: list[float] = field(default_factory=list)
    # From each new session's first answer to its title (None: no title within TITLE_TIMEOUT).
    title_seconds: list[float | None] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def run_task(base_url: str, task: AgentTask, *, memory_timeout: float) -> TaskResult:
    """A fresh person, the task's sessions in order; a memory that never shows up ends it."""
    result = TaskResult(task)
    started = time.perf_counter()
    client = ChatClient(base_url)
    titles: list[TitleWatch] = []
    told = time.perf_counter()  # when the answer before a memory wait ended
    try:
        for document in task.documents:
            client.upload(document)
        for number, session in enumerate(task.sessions, 1):
            if session.wait_for_memory:
                if not client.wait_for_memory(session.wait_for_memory, memory_timeout):
                    words = ", ".join(session.wait_for_memory)
                    result.failures.append(
                        f"memories did not mention {words} within {memory_timeout:.0f} s"
                    )
                    break
                result.memory_seconds.append(time.perf_counter() - told)
            session_id = client.new_session()
            for index, turn in enumerate(session.turns):
                record = client.turn(session_id, turn.content, session=number, index=index)
                if index == 0:
                    titles.append(client.watch_title(session_id))
                result.turns.append(record)
                where = f"session {number} turn {index + 1}"
                result.failures += [f"{where}: {why}" for why in check_turn(turn, record)]
            told = time.perf_counter()
        result.title_seconds = [watch.result() for watch in titles]
    finally:
        client.close()
        result.seconds = time.perf_counter() - started
    return result


def run_tasks(base_url, tasks, *, memory_timeout=MEMORY_TIMEOUT, progress=None):
    results = []
    for task in tasks:
        results.append(run_task(base_url, task, memory_timeout=memory_timeout))
        if progress:
            progress(results[-1], len(results), len(tasks))
    return results


def _bucket(record: TurnRecord) -> str:
    return TURN_BUCKETS[min(record.index, len(TURN_BUCKETS) - 1)]


def _ttft_by_turn(records: list[TurnRecord]) -> dict:
    figures = {}
    for bucket in TURN_BUCKETS:
        ttfts = [r.ttft for r in records if r.ttft is not None and _bucket(r) == bucket]
        figures[bucket] = {
            "turns": len(ttfts),
            "p50_s": statistics.median(ttfts) if ttfts else None,
            "p95_s": percentile(ttfts, 95) if ttfts else None,
        }
    return figures


def _decode(records: list[TurnRecord]) -> dict:
    """Completion tokens over the time after the first token, on turns without tool calls:
    a tool turn's usage also counts the call the model wrote before its first token."""
    plain = [r for r in records if r.done and not r.tool_calls and r.decode_seconds]
    tokens = sum(r.completion_tokens for r in plain)
    seconds = sum(r.decode_seconds for r in plain)
    return {"turns": len(plain), "tokens_per_s": tokens / seconds if seconds else None}


def _latency(seconds: list[float | None], target: float) -> dict:
    """p50/p95 of the figures that came, how many never came, how many met the target."""
    came = [s for s in seconds if s is not None]
    return {
        "count": len(seconds),
        "missing": len(seconds) - len(came),
        "p50_s": statistics.median(came) if came else None,
        "p95_s": percentile(came, 95) if came else None,
        "within_target": sum(1 for s in came if s <= target),
        "target_s": target,
    }


def _leaks(records: list[TurnRecord]) -> dict:
    total = Counter()
    for record in records:
        total.update(record.leaks)
    return {
        "total": sum(total.values()),
        "answers_with_leaks": sum(1 for record in records if record.leaks),
        "answers": len(records),
        "by_marker": dict(total),
    }


def _routing(results: list[TaskResult]) -> dict:
    """The share of checked turns the supervisor handed to the expected specialist."""
    checked = []
    for result in results:
        turns = [turn for session in result.task.sessions for turn in session.turns]
        ran = zip(turns, result.turns, strict=False)  # a task cut short ran fewer turns
        checked += [(turn, record) for turn, record in ran if turn.expect is not None]
    by_agent: dict[str, dict] = {}
    for turn, record in checked:
        entry = by_agent.setdefault(turn.expect.agent, {"turns": 0, "right": 0})
        entry["turns"] += 1
        entry["right"] += routed_right(turn, record)
    right = sum(entry["right"] for entry in by_agent.values())
    return {
        "turns": len(checked),
        "right": right,
        "share": right / len(checked) if checked else None,
        "target": ROUTING_TARGET,
        "by_agent": by_agent,
    }


def summarize(results: list[TaskResult]) -> dict:
    records = [record for result in results for record in result.turns]
    by_kind = {}
    for kind in KINDS:
        ran = [result for result in results if result.task.kind == kind]
        if ran:
            passed = sum(result.passed for result in ran)
            by_kind[kind] = {"tasks": len(ran), "passed": passed, "pass_rate": passed / len(ran)}
    passed = sum(result.passed for result in results)
    return {
        "tasks": len(results),
        "passed": passed,
        "pass_rate": passed / len(results) if results else None,
        "pass_target": PASS_TARGET,
        "by_kind": by_kind,
        "routing": _routing(results),
        "ttft_by_turn": _ttft_by_turn(records),
        "decode": _decode(records),
        "memory": _latency([s for r in results for s in r.memory_seconds], MEMORY_TARGET_S),
        "title": _latency([s for r in results for s in r.title_seconds], TITLE_TARGET_S),
        "leaks": _leaks(records),
        "leak_target": 0,
    }


def report(results: list[TaskResult], **about) -> dict:
    """The JSON report: what ran where, the summary, every task's turns and failures."""
    return {
        **about,
        "summary": summarize(results),
        "tasks": [
            {
                "id": result.task.id,
                "kind": result.task.kind,
                "passed": result.passed,
                "failures": result.failures,
                "seconds": result.seconds,
                "memory_seconds": result.memory_seconds,
                "title_seconds": result.title_seconds,
                "turns": [
                    {**asdict(record), "leaks": dict(record.leaks)} for record in result.turns
                ],
            }
            for result in results
        ],
    }


@contextlib.contextmanager
def product_on(llm_base_url: str, llm_models: str, *, database_url: str, redis_url: str):
    """agentsite (uvicorn and a Celery worker) on the given database and Redis, its ring on the
    given model server; yields the server's URL. The dev settings give the ring the timeouts
    `make dev` runs with (the test settings cut a first token off at 5 s, a local model's
    first token takes about 20)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "agentsite.settings.dev",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": llm_base_url,
        "LLM_MODELS": llm_models,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_REGISTER": "100000/h",  # a person per task
    }
    celery_app.control.purge()  # follow-up work an earlier run left queued
    port = processes.free_port()
    with processes.uvicorn(port, env), processes.celery_worker(env):
        yield f"http://127.0.0.1:{port}"
