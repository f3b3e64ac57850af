"""The model ring against the LLM simulator over real HTTP, with breaker state in real Valkey."""

import asyncio
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from prometheus_client import REGISTRY

from agents.llm.config import parse_models
from agents.llm.recorder import recorder
from agents.llm.ring import (
    CONTINUE_PROMPT,
    FALLBACK_EVENT,
    LLMRequestError,
    LLMUnavailableError,
    ModelRing,
    ring_config,
)
from agents.models import LLMCall
from devtools.llmservers.simulator import SimulatorConfig, echo_reply, running_simulator

PRIMARY, FALLBACK = "sim-primary", "sim-fallback"

# The ring writes an LLMCall row for every attempt, from its writer thread.
pytestmark = pytest.mark.django_db(transaction=True)


def as_graph_node():
    """The ring called the way a LangGraph node calls it: ainvoke inside a traced run."""

    async def call_model(messages):
        return await ModelRing().ainvoke(messages)

    return RunnableLambda(call_model)


def ask(text="hello there", **ring_options):
    return asyncio.run(ModelRing(**ring_options).ainvoke([HumanMessage(text)]))


def requests_to(sim, model) -> int:
    return sim.stats()["models"].get(model, {}).get("requests", 0)


@pytest.fixture
def calls():
    """The LLMCall rows of attempts started during this test, once they are written."""
    since = datetime.now(UTC)

    def written():
        recorder.flush()
        rows = LLMCall.objects.filter(created_at__gte=since)
        return list(rows.order_by("created_at", "attempt"))

    return written


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return expression


class TestAnswers:
    def test_primary_answers_with_usage_and_model(self, llm):
        answer = ask("hello there")
        assert answer.content == echo_reply("hello there", 8)
        assert answer.response_metadata["model_name"] == PRIMARY
        assert answer.usage_metadata["output_tokens"] == 8
        assert requests_to(llm, FALLBACK) == 0

    def test_streaming_yields_every_piece_in_order(self, llm):
        async def stream():
            return [chunk async for chunk in ModelRing().astream([HumanMessage("stream me")])]

        chunks = asyncio.run(stream())
        text = "".join(chunk.content for chunk in chunks)
        assert text == echo_reply("stream me", 8)
        assert sum(1 for chunk in chunks if chunk.content) == 8

    def test_sync_callers_use_the_same_ring(self, llm):
        answer = ModelRing().invoke([HumanMessage("from a celery task")])
        assert answer.content == echo_reply("from a celery task", 8)

    def test_tools_are_bound_and_called(self, llm):
        bound = ModelRing().bind_tools([calculator])
        answer = asyncio.run(bound.ainvoke([HumanMessage("what is 2+3*4")]))
        assert [(c["name"], c["args"]) for c in answer.tool_calls] == [
            ("calculator", {"expression": "2+3*4"})
        ]

    def test_judge_starts_at_its_own_model(self, llm):
        answer = ask(first_model=FALLBACK)
        assert answer.response_metadata["model_name"] == FALLBACK


JSON_MODE = {"type": "json_object"}


def last_request(sim, model=PRIMARY) -> dict:
    return sim.stats()["models"][model]["last_request"]


class TestRequestParameters:
    """What the caller passes reaches the model's HTTP request as it is, in both paths."""

    def test_a_plain_call_sends_response_format_and_returns_the_text(self, llm):
        answer = ModelRing(purpose="memory").invoke(
            [HumanMessage("json please")], response_format=JSON_MODE
        )
        assert answer.content == echo_reply("json please", 8)  # text, not a parsed object
        request = last_request(llm)
        assert (request["response_format"], request["stream"]) == (JSON_MODE, False)

    def test_a_stream_sends_a_bound_response_format(self, llm):
        async def stream():
            bound = ModelRing().bind(response_format=JSON_MODE)
            return [chunk async for chunk in bound.astream([HumanMessage("stream json")])]

        text = "".join(chunk.content for chunk in asyncio.run(stream()))
        assert text == echo_reply("stream json", 8)
        request = last_request(llm)
        assert (request["response_format"], request["stream"]) == (JSON_MODE, True)

    def test_other_parameters_go_along(self, llm):
        ModelRing().invoke([HumanMessage("short")], max_tokens=7, temperature=0)
        request = last_request(llm)
        assert (request["max_completion_tokens"], request["temperature"]) == (7, 0)
        assert "response_format" not in request


class TestRetries:
    def test_retry_then_success_on_the_same_model(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_500", "fail_times": 1})
        assert ask().response_metadata["model_name"] == PRIMARY
        assert requests_to(llm, PRIMARY) == 2

    def test_retry_after_is_honoured(self, llm, settings):
        llm.set_faults(PRIMARY, {"kind": "status_429", "retry_after": 1, "fail_times": 1})
        started = asyncio.run(_timed(ModelRing().ainvoke([HumanMessage("hi")])))
        assert started >= 1.0  # the ring's own backoff is 10 ms in tests
        assert requests_to(llm, PRIMARY) == 2

    def test_a_bad_request_is_never_retried_nor_passed_on(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_400"})
        with pytest.raises(LLMRequestError):
            ask()
        assert requests_to(llm, PRIMARY) == 1
        assert requests_to(llm, FALLBACK) == 0

    def test_context_too_long_is_fatal_with_a_clear_message(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_400", "code": "context_length_exceeded"})
        with pytest.raises(LLMRequestError) as raised:
            ask()
        assert raised.value.reason == "context_length"
        assert "too long" in str(raised.value)

    def test_auth_error_goes_to_the_next_model_without_retry(self, llm, settings):
        with running_simulator(SimulatorConfig(api_key="other-key", reply_tokens=3)) as locked:
            settings.LLM_MODELS = f"{PRIMARY}@{locked.base_url},{FALLBACK}"
            assert ask().response_metadata["model_name"] == FALLBACK
            assert locked.stats()["total"]["outcomes"] == {"unauthorized": 1}  # never retried


class TestFallback:
    def test_429_storm_every_request_still_answered(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_429", "retry_after": 0})

        async def many():
            ring = ModelRing()
            return await asyncio.gather(*(ring.ainvoke([HumanMessage(f"q{n}")]) for n in range(30)))

        answers = asyncio.run(many())
        assert all(a.response_metadata["model_name"] == FALLBACK for a in answers)
        # The breaker (threshold 3 in tests) stops the storm from costing every request retries.
        assert requests_to(llm, PRIMARY) < 30 * 3

    def test_switch_is_reported_as_a_custom_event(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_500"})

        async def events():
            stream = as_graph_node().astream_events([HumanMessage("hi")], version="v2")
            return [e async for e in stream if e["event"] == "on_custom_event"]

        (event,) = asyncio.run(events())
        assert event["name"] == FALLBACK_EVENT
        assert event["data"] == {
            "from_model": PRIMARY,
            "to_model": FALLBACK,
            "reason": "server_error",
        }

    def test_tools_are_rebound_on_the_fallback(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        answer = asyncio.run(ModelRing().bind_tools([calculator]).ainvoke("calculate 7*6"))
        assert answer.response_metadata["model_name"] == FALLBACK
        assert answer.tool_calls[0]["args"] == {"expression": "7*6"}

    def test_mid_stream_break_continues_on_the_next_model(self, llm):
        llm.set_faults(PRIMARY, {"break_after_tokens": 3})

        async def run():
            text, events = "", []
            stream = as_graph_node().astream_events([HumanMessage("tell me")], version="v2")
            async for event in stream:
                if event["event"] == "on_chat_model_stream":
                    text += event["data"]["chunk"].content
                elif event["event"] == "on_custom_event":
                    events.append(event["data"])
            return text, events

        text, events = asyncio.run(run())
        first_part = "".join(echo_reply("tell me", 8).split(" ", 3)[:3])
        assert events == [{"from_model": PRIMARY, "to_model": FALLBACK, "reason": "stream_broken"}]
        assert text.startswith(echo_reply("tell me", 8)[: len(first_part)])
        assert text.endswith(echo_reply(CONTINUE_PROMPT, 8))

    def test_every_model_down_is_a_clear_error(self, llm):
        llm.set_faults("*", {"kind": "status_500"})
        with pytest.raises(LLMUnavailableError) as raised:
            ask()
        assert "try again" in str(raised.value)

    def test_budget_exhausted_is_a_clear_error(self, llm, settings):
        settings.LLM_POLICY = {**settings.LLM_POLICY, "budget": 1.0}
        llm.set_faults("*", {"kind": "hang"})
        with pytest.raises(LLMUnavailableError) as raised:
            ask()
        assert "took too long" in str(raised.value) or "unavailable" in str(raised.value)

    def test_each_purpose_has_its_own_budget(self, llm, settings):
        settings.LLM_POLICY = {**settings.LLM_POLICY, "budgets": {"title": 1.0}}
        llm.set_faults("*", {"kind": "hang"})
        with pytest.raises(LLMUnavailableError, match=r"over 1 s"):
            ModelRing(purpose="title").invoke([HumanMessage("name this")])
        policy = ring_config().policy
        assert (policy.budget_for("title"), policy.budget_for("chat")) == (1.0, 20.0)


class TestBreaker:
    def test_opens_skips_half_opens_and_closes(self, llm, settings):
        settings.LLM_POLICY = {**settings.LLM_POLICY, "breaker_cooldown": 0.5}
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        assert ask().response_metadata["model_name"] == FALLBACK  # 3 failures: open
        opened_at = requests_to(llm, PRIMARY)
        assert opened_at == 3
        assert ask().response_metadata["model_name"] == FALLBACK
        assert requests_to(llm, PRIMARY) == opened_at  # skipped: no call, no delay
        asyncio.run(asyncio.sleep(0.6))
        llm.clear_faults()
        assert ask().response_metadata["model_name"] == PRIMARY  # the probe succeeds: closed
        assert ask().response_metadata["model_name"] == PRIMARY

    def test_a_failed_probe_opens_it_again(self, llm, settings):
        settings.LLM_POLICY = {**settings.LLM_POLICY, "breaker_cooldown": 0.5}
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        ask()
        asyncio.run(asyncio.sleep(0.6))
        ask()  # the probe: one call, fails, open again
        assert requests_to(llm, PRIMARY) == 4
        ask()
        assert requests_to(llm, PRIMARY) == 4

    def test_background_failures_leave_the_chat_breaker_closed(self, llm):
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        memory = ModelRing(purpose="memory").invoke([HumanMessage("facts")])
        assert memory.response_metadata["model_name"] == FALLBACK  # its breaker opened
        assert requests_to(llm, PRIMARY) == 3
        asyncio.run(ModelRing(purpose="memory").ainvoke([HumanMessage("facts")]))
        assert requests_to(llm, PRIMARY) == 3  # skipped for memory
        ask()  # the chat still tries the primary
        assert requests_to(llm, PRIMARY) == 6

    def test_the_open_gauge_is_per_model_and_purpose(self, llm):
        """A judge's breaker opening shows on the judge's series only, never the chat's; the
        gauge reads Redis, so every process reports the same state."""
        from agents.llm.metrics import BreakerCollector

        def gauge(purpose):
            (family,) = BreakerCollector().collect()
            labels = {"model": PRIMARY, "purpose": purpose}
            return next(s.value for s in family.samples if s.labels == labels)

        llm.set_faults(PRIMARY, {"kind": "status_500"})
        ModelRing(purpose="judge").invoke([HumanMessage("grade")])
        assert gauge("judge") == 1
        llm.clear_faults()
        ask()
        assert gauge("chat") == 0
        assert gauge("judge") == 1

    def test_state_is_shared_through_redis(self, llm):
        """A second ring object (another process in production) sees the open breaker."""
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        ask()
        from agents.llm import ring

        ring.breaker.cache_clear()  # as if in a new process
        ask()
        assert requests_to(llm, PRIMARY) == 3


class TestIsolation:
    def test_one_requests_switch_changes_nothing_for_others(self, llm, settings):
        settings.LLM_POLICY = {**settings.LLM_POLICY, "max_retries": 0, "breaker_threshold": 100}
        llm.set_faults(PRIMARY, {"kind": "status_500", "fail_times": 3})

        async def many():
            ring = ModelRing()
            return await asyncio.gather(*(ring.ainvoke([HumanMessage(f"q{n}")]) for n in range(20)))

        models = [a.response_metadata["model_name"] for a in asyncio.run(many())]
        assert models.count(FALLBACK) == 3
        assert models.count(PRIMARY) == 17


class TestRecords:
    def test_every_attempt_is_a_row(self, llm, settings, calls):
        settings.LLM_PRICES = '{"sim-fallback": {"prompt": 1000000, "completion": 2000000}}'
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        ask("hello")
        rows = calls()
        assert [(r.model, r.attempt, r.status, r.error_reason) for r in rows] == [
            (PRIMARY, 1, "error", "server_error"),
            (PRIMARY, 2, "error", "server_error"),
            (PRIMARY, 3, "error", "server_error"),
            (FALLBACK, 4, "ok", ""),
        ]
        answered = rows[-1]
        assert answered.fallback_from == PRIMARY
        assert answered.completion_tokens == 8
        assert answered.prompt_tokens == 1
        assert float(answered.cost_usd) == 1 * 1 + 8 * 2
        assert answered.ttft_ms is not None
        assert len({r.ring_request_id for r in rows}) == 1

    def test_rows_carry_request_and_user_ids(self, llm, user, calls):
        from agentsite import context

        with context.bound(request_id="req-llm-1", user_id=user.pk):
            ask()
        (row,) = calls()
        assert row.request_id == "req-llm-1"
        assert row.user_id == user.pk

    def test_metrics_count_calls_failures_and_fallbacks(self, llm):
        def value(name, **labels):
            return REGISTRY.get_sample_value(name, labels) or 0

        before = (
            value("llm_calls_total", model=FALLBACK, purpose="chat", status="ok"),
            value("llm_failures_total", model=PRIMARY, purpose="chat", reason="server_error"),
            value("llm_retries_total", model=PRIMARY, purpose="chat"),
            value("llm_fallbacks_total", from_model=PRIMARY, to_model=FALLBACK, purpose="chat"),
        )
        llm.set_faults(PRIMARY, {"kind": "status_500"})
        ask()
        after = (
            value("llm_calls_total", model=FALLBACK, purpose="chat", status="ok"),
            value("llm_failures_total", model=PRIMARY, purpose="chat", reason="server_error"),
            value("llm_retries_total", model=PRIMARY, purpose="chat"),
            value("llm_fallbacks_total", from_model=PRIMARY, to_model=FALLBACK, purpose="chat"),
        )
        assert [b - a for a, b in zip(before, after, strict=True)] == [1, 3, 2, 1]

    def test_cancelled_request_is_recorded_as_interrupted(self, llm, calls):
        slow = SimulatorConfig(ttft_ms=0, tokens_per_s=20, reply_tokens=100)
        with running_simulator(slow) as sim, _ring_at(sim):

            async def cancel_midway():
                stream = ModelRing().astream([HumanMessage("long answer")])
                task = asyncio.create_task(_consume(stream))
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

            asyncio.run(cancel_midway())
        (row,) = calls()
        assert row.status == "interrupted"
        assert 0 < row.completion_tokens < 100


class TestConfig:
    def test_entries_with_their_own_endpoint(self):
        models = parse_models(
            "gpt-4o, local@http://127.0.0.1:8800/v1/",
            default_base_url="https://api.openai.com/v1",
            api_key="k",
        )
        assert [(m.name, m.base_url) for m in models] == [
            ("gpt-4o", "https://api.openai.com/v1"),
            ("local", "http://127.0.0.1:8800/v1"),
        ]

    @pytest.mark.parametrize(
        ("spec", "named"),
        [
            ("gpt-4o,,mini", "empty entry"),
            ("gpt-4o,mini@ftp://x", "'mini@ftp://x'"),
            ("@http://x:1/v1", "'@http://x:1/v1'"),
            ("a,a", "['a']"),
        ],
    )
    def test_bad_entries_are_named(self, spec, named):
        with pytest.raises(ImproperlyConfigured) as raised:
            parse_models(spec, default_base_url="https://api.openai.com/v1", api_key="")
        assert named in str(raised.value)

    def test_a_budget_out_of_range_stops_the_start(self, settings):
        settings.LLM_POLICY = {**settings.LLM_POLICY, "budgets": {"memory": 0}}
        with pytest.raises(ImproperlyConfigured, match="out of range"):
            ring_config()

    def test_a_bad_ring_stops_the_start(self, settings):
        settings.LLM_MODELS = "gpt-4o,bad@nonsense"
        with pytest.raises(ImproperlyConfigured, match="bad@nonsense"):
            ring_config()


async def _timed(awaitable) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await awaitable
    return loop.time() - started


async def _consume(stream):
    async for _ in stream:
        pass


class _ring_at:
    """Point the ring's models at another simulator for a block."""

    def __init__(self, sim):
        from django.test import override_settings

        self._override = override_settings(LLM_BASE_URL=sim.base_url)

    def __enter__(self):
        self._override.enable()

    def __exit__(self, *exc):
        self._override.disable()
