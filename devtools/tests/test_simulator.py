"""The LLM simulator over real HTTP (httpx against ``running_simulator``); no Django needed.

Run: ``.venv/bin/python -m pytest devtools/tests/test_simulator.py -q -p no:django``
"""

from __future__ import annotations

import base64
import json
import math
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.llmservers import protocol as proto
from devtools.llmservers.simulator import (
    FaultSpec,
    SimulatorConfig,
    build_parser,
    config_from_options,
    count_prompt_tokens,
    echo_reply,
    embed_text,
    load_rules,
    parse_fault,
    running_simulator,
    split_pieces,
)
from devtools.tests.tool_specs import CALCULATOR, CURRENT_TIME

REPO = Path(__file__).resolve().parents[2]
JUDGE_REPLY = '{"score": 1.0, "passed": true, "reason": "simulated"}'
# The base rules of these tests: the intents mapped to the agent's tools, and a judge's verdict.
BASE_RULES = [
    {"intent": "arithmetic", "tool": "calculator", "argument": "expression"},
    {"intent": "time", "tool": "current_time", "argument": "timezone", "default": "UTC"},
    {"system": r"\bjson\b.*\bscore\b", "reply": JUDGE_REPLY},
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the project-wide Redis-clearing fixture: these tests touch no Django."""
    return


@pytest.fixture(scope="module")
def sim():
    with running_simulator(SimulatorConfig(reply_tokens=12, base_rules=BASE_RULES)) as handle:
        yield handle


@pytest.fixture
def client(sim):
    sim.reset()
    with httpx.Client(base_url=sim.base_url, timeout=10) as c:
        yield c
    sim.reset()


def user(text):
    return {"role": "user", "content": text}


def chat(client, messages, **extra):
    return client.post("/chat/completions", json={"model": "sim-a", "messages": messages, **extra})


def stream_events(client, messages, **extra):
    """The parsed ``data:`` payloads of a streamed answer; the last one is the string [DONE]."""
    body = {"model": "sim-a", "messages": messages, "stream": True, **extra}
    events = []
    with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                continue
            assert line.startswith("data: ")
            payload = line[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def content_of(events):
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e["choices"]
    )


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------------------ pure helpers


def test_split_pieces_concatenate_to_the_exact_text():
    for text in ["Hi there.", "  lead and trail  ", "one", "", "a\nb\tc", "   "]:
        assert "".join(split_pieces(text)) == text
    assert split_pieces("Hi there, you.") == ["Hi", " there,", " you."]


def test_echo_reply_has_exactly_reply_tokens_pieces():
    assert echo_reply("hello   world", 6) == "You said: hello world. lorem ipsum"
    assert echo_reply("Is it?", 3) == "You said: Is"
    assert echo_reply("", 3) == "You said nothing."
    assert len(split_pieces(echo_reply("x", 150))) == 150


def test_prompt_tokens_count_words_of_messages_tool_calls_and_tools():
    messages = [
        {"role": "system", "content": "be brief"},
        user("what is 2+3"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "2+3"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
    ]
    # 2 + 3 + (1 + 2) + 1 words, plus the tool's name and the words of its description
    description_words = len(CALCULATOR["function"]["description"].split())
    assert count_prompt_tokens(messages, [CALCULATOR]) == 9 + 1 + description_words


def test_parse_fault_cli_syntax():
    assert parse_fault("gpt-4o:status_429:2") == (
        "gpt-4o",
        FaultSpec(kind="status_429", retry_after=2.0),
    )
    model, spec = parse_fault("qwen2.5:1.5b:status_500:fail_times=2,probability=0.5")
    assert (model, spec.kind, spec.fail_times, spec.probability) == (
        "qwen2.5:1.5b",
        "status_500",
        2,
        0.5,
    )
    assert parse_fault("*:break_after_tokens:5")[1].break_after_tokens == 5
    assert parse_fault("m:rate_limit_window:10/60")[1].rate_limit_window == {
        "requests": 10,
        "seconds": 60.0,
    }
    with pytest.raises(ValueError, match="expected MODEL:KIND"):
        parse_fault("m:explode")


def test_cli_parser_builds_the_config():
    argv = ["--port", "9999", "--ttft-ms", "300", "--tokens-per-s", "50", "--reply-tokens", "150"]
    argv += ["--fault", "gpt-4o:status_429:3", "--models", "a,b", "--profile", "b:10:100:7"]
    config = config_from_options(vars(build_parser().parse_args(argv)))
    assert (config.port, config.ttft_ms, config.tokens_per_s, config.reply_tokens) == (
        9999,
        300.0,
        50.0,
        150,
    )
    assert config.models == ["a", "b"]
    assert config.faults["gpt-4o"].retry_after == 3.0
    assert config.profiles["b"].reply_tokens == 7


def test_fault_spec_validation():
    assert FaultSpec.from_value({"break_after_tokens": 3}).kind == "break_after_tokens"
    assert FaultSpec.from_value({"hang": True}).kind == "hang"
    assert FaultSpec.from_value({"status_429": {"retry_after": 4}}).retry_after == 4
    for bad in [{"kind": "nope"}, {"kind": "status_500", "typo": 1}, {}, {"probability": 2}]:
        with pytest.raises(ValueError, match=r"fault|probability"):
            FaultSpec.from_value(bad)


# ---------------------------------------------------------------------------- chat answers


def test_non_streaming_echo_answer_and_usage(client):
    response = chat(client, [{"role": "system", "content": "be nice"}, user("hello  world")])
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "sim-a"
    choice = body["choices"][0]
    expected = echo_reply("hello world", 12)
    assert choice["message"] == {"role": "assistant", "content": expected, "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 12, "total_tokens": 16}


def test_streaming_chunks_concatenate_to_the_exact_reply(client):
    events = stream_events(client, [user("stream me please")])
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = [c for c in chunks if c["choices"][0]["delta"].get("content")]
    assert len(content) == 12  # one chunk per token piece
    assert content_of(events) == echo_reply("stream me please", 12)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert len({c["id"] for c in chunks}) == 1


def test_streaming_usage_chunk_when_asked(client):
    events = stream_events(
        client, [user("count me")], stream_options={"include_usage": True}, max_tokens=5
    )
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert all(e["usage"] is None for e in events[:-2])
    assert events[-3]["choices"][0]["finish_reason"] == "length"
    assert content_of(events) == "".join(split_pieces(echo_reply("count me", 12))[:5])


def test_judge_prompt_gets_a_json_verdict(client):
    system = {"role": "system", "content": "Grade the answer. Reply in JSON with a score."}
    body = chat(client, [system, user("Q: 2+2? A: 4")]).json()
    assert json.loads(body["choices"][0]["message"]["content"]) == json.loads(JUDGE_REPLY)


def test_scripted_rules_win_over_defaults(sim, client):
    sim.set_rules(
        [
            {"match": r"weather in (\w+)", "tool_calls": [{"name": "weather", "arguments": {}}]},
            {"match": "weather", "reply": "It is sunny."},
            {"match": "^ping$", "reply": "pong"},
        ]
    )
    weather_tool = {"type": "function", "function": {"name": "weather"}}
    assert chat(client, [user("PING")]).json()["choices"][0]["message"]["content"] == "pong"
    first = chat(client, [user("weather in Oslo?")], tools=[weather_tool]).json()["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    call = first["message"]["tool_calls"][0]
    # after the tool result the tool-call rule no longer applies; the next rule does
    history = [
        user("weather in Oslo?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    final = chat(client, history, tools=[weather_tool]).json()["choices"][0]
    assert final["message"]["content"] == "It is sunny."


def test_a_rule_may_also_require_words_in_the_system_prompt(sim, client):
    sim.set_rules([{"match": "where do I live", "system": "lives in Paris", "reply": "Paris."}])
    knows = {"role": "system", "content": "Facts: User lives in Paris."}
    answer = chat(client, [knows, user("Where do I live?")]).json()["choices"][0]["message"]
    assert answer["content"] == "Paris."
    answer = chat(client, [user("Where do I live?")]).json()["choices"][0]["message"]
    assert answer["content"].startswith("You said: Where do I live?")


def test_rules_load_from_a_json_file(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"match": "hello", "reply": "Hi from the file."}]}))
    with (
        running_simulator(SimulatorConfig(rules=str(path))) as sim,
        httpx.Client(base_url=sim.base_url) as c,
    ):
        body = chat(c, [user("hello there")]).json()
    assert body["choices"][0]["message"]["content"] == "Hi from the file."


def test_base_rules_stay_when_the_scripted_rules_change(sim, client):
    sim.set_rules([{"match": "^ping$", "reply": "pong"}])
    choice = chat(client, [user("what is 2+2")], tools=[CALCULATOR]).json()["choices"][0]
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "calculator"
    with httpx.Client(base_url=sim.root_url) as admin:
        shown = admin.get("/_sim/rules").json()
        assert shown == {"rules": [{"match": "^ping$", "reply": "pong"}], "base_rules": BASE_RULES}
        assert admin.put("/_sim/rules", json=[{"match": "what is"}]).status_code == 400
        assert admin.get("/_sim/rules").json() == shown
    # a scripted reply rule comes before the base rules' intents
    sim.set_rules([{"match": "what is", "reply": "No idea."}])
    choice = chat(client, [user("what is 2+2")], tools=[CALCULATOR]).json()["choices"][0]
    assert choice["message"]["content"] == "No idea."


def function_tool(name, argument):
    parameters = {"type": "object", "properties": {argument: {"type": "string"}}}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


def test_intent_rules_map_the_asks_to_any_tool_and_argument():
    rules = [
        {"intent": "arithmetic", "tool": "calc", "argument": "expr", "model": "m"},
        {"intent": "time", "tool": "clock", "argument": "zone"},
    ]
    tools = [function_tool("calc", "expr"), function_tool("clock", "zone")]
    with (
        running_simulator(SimulatorConfig(rules=rules)) as sim,
        httpx.Client(base_url=sim.base_url) as c,
    ):

        def calls(text, model="m"):
            body = {"model": model, "messages": [user(text)], "tools": tools}
            message = c.post("/chat/completions", json=body).json()["choices"][0]["message"]
            return [
                (call["function"]["name"], json.loads(call["function"]["arguments"]))
                for call in message.get("tool_calls") or ()
            ]

        assert calls("What is 6*7, and the time in Paris?") == [
            ("calc", {"expr": "6*7"}),
            ("clock", {"zone": "Europe/Paris"}),
        ]
        assert calls("what time is it?") == [("clock", {})]  # no zone named, no default
        assert calls("what is 6*7", model="other") == []  # that rule is for model "m"


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("hello", "a rule is a JSON object"),
        ({"match": "x"}, "exactly one of 'reply', 'tool_calls' and 'intent'"),
        ({"match": "x", "reply": "a", "intent": "time"}, "exactly one of"),
        ({"reply": "a"}, "needs a 'match' or a 'system' regex"),
        ({"match": "(", "reply": "a"}, "bad 'match' regex"),
        ({"system": 3, "reply": "a"}, "'system' must be a regex string"),
        ({"match": "x", "reply": 3}, "'reply' must be a string"),
        ({"match": "x", "reply": "a", "typo": 1}, r"unknown keys \['typo'\]"),
        ({"match": "x", "reply": "a", "model": 1}, "'model' must be a model name"),
        ({"match": "x", "tool_calls": []}, "'tool_calls' must be a non-empty list"),
        ({"match": "x", "tool_calls": [{"arguments": {}}]}, "each tool call needs a 'name'"),
        ({"match": "x", "tool_calls": [{"name": "t", "arguments": [1]}]}, "must be an object"),
        ({"match": "x", "tool_calls": [{"name": "t", "args": {}}]}, "nothing else"),
        ({"intent": "weather", "tool": "t", "argument": "a"}, "unknown intent 'weather'"),
        ({"intent": "time", "argument": "a"}, "'tool' must be a name"),
        ({"intent": "time", "tool": "t", "argument": ""}, "'argument' must be a name"),
        ({"intent": "time", "tool": "t", "argument": "a", "default": []}, "'default' must be"),
        ({"intent": "time", "tool": "t", "argument": "a", "default": True}, "'default' must be"),
        ({"intent": "time", "tool": "t", "argument": "a", "match": "x"}, "unknown keys"),
    ],
)
def test_bad_rules_are_refused(rule, error):
    with pytest.raises(ValueError, match=error):
        load_rules([rule])
    with pytest.raises(ValueError, match=r"\Arule 1: "):  # the error names the bad rule
        load_rules({"rules": [{"match": "fine", "reply": "ok"}, rule]})


def test_rules_must_be_a_list():
    for source in ({"rule": []}, {"rules": "x"}, 42):
        with pytest.raises(ValueError, match="rules must be a list"):
            load_rules(source)


def test_cli_takes_both_rule_files():
    argv = ["--rules", "scripted.json", "--base-rules", "product.json"]
    config = config_from_options(vars(build_parser().parse_args(argv)))
    assert (config.rules, config.base_rules) == ("scripted.json", "product.json")


# ------------------------------------------------------------------------------- tool calls


def test_arithmetic_gives_a_calculator_call_then_a_final_answer(client):
    question = user("What is 2+3*4?")
    body = chat(client, [question], tools=[CALCULATOR]).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {"expression": "2+3*4"}
    assert body["usage"]["completion_tokens"] == 1 + len(
        split_pieces(call["function"]["arguments"])
    )

    history = [
        question,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "14"},
    ]
    final = chat(client, history, tools=[CALCULATOR]).json()["choices"][0]
    assert final["finish_reason"] == "stop"
    assert "tool_calls" not in final["message"]
    assert final["message"]["content"] == "The result is 14."

    # the same question again later: the result is already known, so no new call
    again = [*history, {"role": "assistant", "content": "The result is 14."}, question]
    third = chat(client, again, tools=[CALCULATOR]).json()["choices"][0]
    assert third["finish_reason"] == "stop"
    assert third["message"]["content"] == "The result is 14."


def test_no_tool_call_without_the_tool_or_with_tool_choice_none(client):
    for extra in ({}, {"tools": [CALCULATOR], "tool_choice": "none"}):
        choice = chat(client, [user("what is 2+3")], **extra).json()["choices"][0]
        assert choice["finish_reason"] == "stop"
        assert choice["message"]["content"].startswith("You said: what is 2+3.")


def test_two_asks_give_two_parallel_tool_calls(client):
    question = user("Calculate 6 times 7, and what time is it in Tokyo?")
    tools = [CALCULATOR, CURRENT_TIME]
    choice = chat(client, [question], tools=tools).json()["choices"][0]
    calls = choice["message"]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("calculator", {"expression": "6 * 7"}),
        ("current_time", {"timezone": "Asia/Tokyo"}),
    ]
    assert len({c["id"] for c in calls}) == 2

    # the same as a stream: tool-call deltas assemble into the same two calls
    events = stream_events(client, [question], tools=tools)
    assert events[-1] == "[DONE]"
    assembled: dict[int, dict] = {}
    for event in events[:-1]:
        for delta in event["choices"][0]["delta"].get("tool_calls") or ():
            slot = assembled.setdefault(delta["index"], {"name": "", "arguments": ""})
            if "id" in delta:
                slot["id"] = delta["id"]
                slot["name"] = delta["function"]["name"]
            slot["arguments"] += delta["function"].get("arguments", "")
    assert [json.loads(assembled[i]["arguments"]) for i in (0, 1)] == [
        {"expression": "6 * 7"},
        {"timezone": "Asia/Tokyo"},
    ]
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"

    results = [
        question,
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "42"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "09:00 JST"},
    ]
    final = chat(client, results, tools=tools).json()["choices"][0]["message"]["content"]
    assert final == "The results are 42 and 09:00 JST."
    one = chat(client, [question], tools=tools, parallel_tool_calls=False).json()
    assert len(one["choices"][0]["message"]["tool_calls"]) == 1


def test_required_and_named_tool_choice(client):
    named = {"type": "function", "function": {"name": "current_time"}}
    choice = chat(client, [user("hello")], tools=[CALCULATOR, CURRENT_TIME], tool_choice=named)
    (call,) = choice.json()["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "current_time"
    assert json.loads(call["function"]["arguments"]) == {"timezone": "UTC"}
    required = chat(client, [user("hello")], tools=[CALCULATOR], tool_choice="required").json()
    assert required["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "calculator"


# ---------------------------------------------------------------------------- errors, faults


def test_bad_requests_get_openai_errors(client):
    response = client.post("/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    response = client.post("/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"
    assert client.get("/nowhere").status_code == 404
    assert client.get("/chat/completions").status_code == 405


def test_unknown_model_and_api_key():
    config = SimulatorConfig(models=["good"], api_key="sk-test")
    with running_simulator(config) as sim, httpx.Client(base_url=sim.base_url) as c:
        body = {"model": "good", "messages": [user("hi")]}
        unauthorized = c.post("/chat/completions", json=body)
        assert unauthorized.status_code == 401
        assert unauthorized.json()["error"]["code"] == "invalid_api_key"
        headers = {"Authorization": "Bearer sk-test"}
        assert c.post("/chat/completions", json=body, headers=headers).status_code == 200
        missing = c.post("/chat/completions", json={**body, "model": "bad"}, headers=headers)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "model_not_found"
        models = c.get("/models", headers=headers).json()
        assert [m["id"] for m in models["data"]] == ["good"]


def test_status_429_with_retry_after(sim, client):
    sim.set_faults("sim-a", {"kind": "status_429", "retry_after": 3})
    response = chat(client, [user("hi")])
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    # other models are not affected
    other = client.post("/chat/completions", json={"model": "sim-b", "messages": [user("hi")]})
    assert other.status_code == 200
    stats = sim.stats()
    assert stats["models"]["sim-a"]["outcomes"] == {"status_429": 1}
    assert stats["models"]["sim-b"]["outcomes"] == {"ok": 1}


def test_fail_times_then_success(sim, client):
    sim.set_faults("*", {"kind": "status_500", "fail_times": 2})
    codes = [chat(client, [user("retry me")]).status_code for _ in range(4)]
    assert codes == [500, 500, 200, 200]
    assert sim.stats()["models"]["sim-a"]["outcomes"] == {"status_500": 2, "ok": 2}


def test_status_400_context_length(sim, client):
    sim.set_faults("sim-a", {"kind": "status_400"})
    response = chat(client, [user("hi")])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_rate_limit_window(sim, client):
    sim.set_faults("sim-a", {"rate_limit_window": {"requests": 2, "seconds": 0.6}})
    codes = [chat(client, [user("hi")]).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = chat(client, [user("hi")])
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    time.sleep(0.7)
    assert chat(client, [user("hi")]).status_code == 200


def test_break_after_tokens_drops_the_stream(sim, client):
    sim.set_faults("sim-a", {"break_after_tokens": 3})
    body = {"model": "sim-a", "messages": [user("break please")], "stream": True}
    lines = []
    with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # noqa: PT012 - lines before the error
            for line in response.iter_lines():
                lines.append(line)
    lines = [line for line in lines if line]
    events = [json.loads(line[6:]) for line in lines]
    assert "data: [DONE]" not in lines
    assert [e["choices"][0]["delta"].get("content") for e in events[1:]] == split_pieces(
        echo_reply("break please", 12)
    )[:3]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    # non-streaming: half a body, then the connection is gone
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client, [user("break please")])
    assert sim.stats()["models"]["sim-a"]["outcomes"] == {"broken": 2}


def test_hang_until_the_client_gives_up(sim, client):
    sim.set_faults("sim-a", {"kind": "hang"})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/chat/completions",
            json={"model": "sim-a", "messages": [user("hi")]},
            timeout=httpx.Timeout(5, read=0.5),
        )
    assert time.monotonic() - started >= 0.5
    # the server notices the disconnect and lets the request go (no leaked task)
    deadline = time.monotonic() + 5
    while sim.stats()["active"] and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = sim.stats()
    assert stats["active"] == 0
    assert stats["models"]["sim-a"]["outcomes"] == {"hang": 1}


def test_hanging_request_does_not_block_shutdown():
    with running_simulator(faults={"*": {"kind": "hang"}}) as sim:
        url = sim.base_url + "/chat/completions"
        body = {"model": "x", "messages": [user("hi")]}
        with httpx.Client(timeout=30) as c:
            import threading

            errors = []

            def call():
                try:
                    c.post(url, json=body)
                except httpx.HTTPError as exc:
                    errors.append(exc)

            thread = threading.Thread(target=call)
            thread.start()
            deadline = time.monotonic() + 5
            while not sim.stats()["active"] and time.monotonic() < deadline:
                time.sleep(0.02)
            started = time.monotonic()
            sim.stop()
            thread.join(10)
    assert time.monotonic() - started < 5
    assert not thread.is_alive()


def test_runtime_fault_changes_over_http(sim, client):
    admin = httpx.Client(base_url=sim.root_url)
    put = admin.put("/_sim/faults", json={"sim-a": {"kind": "status_500", "fail_times": 1}})
    assert put.status_code == 200
    assert put.json()["faults"]["sim-a"]["kind"] == "status_500"
    assert chat(client, [user("hi")]).status_code == 500
    assert admin.get("/_sim/faults").json()["faults"]["sim-a"]["remaining"] == 0
    assert chat(client, [user("hi")]).status_code == 200
    # a model's own entry (even an exhausted one) shadows "*"
    admin.put("/_sim/faults", json={"*": {"kind": "status_429", "retry_after": 1}})
    assert chat(client, [user("hi")]).status_code == 200
    assert "sim-a" not in admin.delete("/_sim/faults?model=sim-a").json()["faults"]
    assert chat(client, [user("hi")]).status_code == 429
    assert admin.put("/_sim/faults", json={"x": {"kind": "bogus"}}).status_code == 400
    assert admin.delete("/_sim/faults").json() == {"faults": {}}
    assert chat(client, [user("hi")]).status_code == 200
    stats = admin.get("/_sim/stats").json()
    assert stats["models"]["sim-a"]["requests"] == 5
    assert admin.post("/_sim/reset").status_code == 200
    assert admin.get("/_sim/stats").json()["total"]["requests"] == 0
    admin.close()


def test_configured_faults_at_start_and_reset_restores_them():
    config = SimulatorConfig(faults={"m": {"kind": "status_500", "fail_times": 1}})
    with running_simulator(config) as sim, httpx.Client(base_url=sim.base_url) as c:
        body = {"model": "m", "messages": [user("hi")]}
        assert [c.post("/chat/completions", json=body).status_code for _ in range(2)] == [500, 200]
        sim.reset()
        assert c.post("/chat/completions", json=body).status_code == 500


# ------------------------------------------------------------------------------ embeddings


def test_embeddings_are_deterministic_normalised_and_similar_texts_close(client):
    texts = [
        "The user likes green tea in the morning",
        "the user likes green tea every morning",
        "Quarterly revenue of the steel factory fell sharply",
    ]
    response = client.post("/embeddings", json={"model": "emb", "input": texts})
    assert response.status_code == 200
    body = response.json()
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)
    assert all(math.isclose(math.sqrt(cosine(v, v)), 1.0, rel_tol=1e-9) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.7
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.4
    assert body["usage"]["prompt_tokens"] == sum(len(t.split()) for t in texts)

    again = client.post("/embeddings", json={"model": "emb", "input": texts[0]}).json()
    assert again["data"][0]["embedding"] == vectors[0] == embed_text(texts[0], 384)

    small = client.post("/embeddings", json={"model": "emb", "input": "hi", "dimensions": 16})
    assert len(small.json()["data"][0]["embedding"]) == 16
    b64 = client.post(
        "/embeddings", json={"model": "emb", "input": texts[0], "encoding_format": "base64"}
    ).json()["data"][0]["embedding"]
    raw = base64.b64decode(b64)
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, vectors[0], strict=True))
    assert client.post("/embeddings", json={"model": "emb", "input": []}).status_code == 400


# --------------------------------------------------------------------------------- latency


def test_latency_model_is_roughly_honoured():
    config = SimulatorConfig(ttft_ms=200, tokens_per_s=100, reply_tokens=20)
    with running_simulator(config) as sim, httpx.Client(base_url=sim.base_url, timeout=10) as c:
        body = {"model": "m", "messages": [user("time me")], "stream": True}
        started = time.monotonic()
        first_token = None
        with c.stream("POST", "/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if first_token is None and '"content":"' in line and '"content":""' not in line:
                    first_token = time.monotonic() - started
        total = time.monotonic() - started
        assert first_token is not None
        assert 0.2 <= first_token < 2.0
        assert 0.2 + 19 / 100 <= total < 4.0

        started = time.monotonic()
        response = c.post("/chat/completions", json={**body, "stream": False})
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert 0.2 + 20 / 100 <= elapsed < 4.0


def test_per_model_profiles():
    config = SimulatorConfig(reply_tokens=3, profiles={"long": {"reply_tokens": 7}})
    with running_simulator(config) as sim, httpx.Client(base_url=sim.base_url) as c:
        for model, n in (("short", 3), ("long", 7)):
            body = {"model": model, "messages": [user("hello there friend")]}
            usage = c.post("/chat/completions", json=body).json()["usage"]
            assert usage["completion_tokens"] == n


# --------------------------------------------------------------------------- protocol bits


def test_chunk_encoder_lines_are_valid_json():
    enc = proto.ChunkEncoder("m", include_usage=True)
    for line in (enc.role(), enc.content('he said "hi"\n'), enc.finish("stop")):
        assert line.startswith(b"data: ")
        assert line.endswith(b"\n\n")
        chunk = json.loads(line[6:])
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["usage"] is None
    assert json.loads(enc.content("é")[6:])["choices"][0]["delta"]["content"] == "é"


def test_module_runs_without_django():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "devtools.llmservers.simulator", "--port", str(port)]
    cmd += ["--models", "z"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert [m["id"] for m in response.json()["data"]] == ["z"]
    finally:
        proc.terminate()
        proc.wait(10)
    check = "import sys, devtools.llmservers.simulator; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True)


def test_stats_keep_each_models_last_request_body(sim, client):
    chat(client, [user("first")])
    fmt = {"type": "json_object"}
    stream_events(client, [user("second")], response_format=fmt)
    last = sim.stats()["models"]["sim-a"]["last_request"]
    assert last == {"model": "sim-a", "messages": [user("second")], "stream": True} | {
        "response_format": fmt
    }
