"""Our OpenAI-compatible server for the local model.

Three layers: pure unit tests of the tool-call parser and the streaming hold-back (no model); the
HTTP side with a scripted backend (retry, repeated-call refusal, prefills -- deterministic, no
model); and the REAL 0.5B test model (``local_model_path(TEST_SPEC)``) behind one session-scoped
server (``devtools/tests/conftest.py``), temperature 0 and small ``max_tokens``.

Run: ``.venv/bin/python -m pytest devtools/tests/test_local_server.py -q``
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from devtools.llmservers import local as ls
from devtools.llmservers import protocol as proto
from devtools.llmservers.local import (
    REQUIRED_PREFILL,
    UNREADABLE_CALL,
    GenParams,
    ParsedCall,
    ToolCallStream,
    answer_now_messages,
    parse_tool_output,
    template_messages,
    tool_results,
)
from devtools.llmservers.protocol import tool_call_key
from devtools.tests.local_server_kit import (
    QUESTION,
    calculator_conversation,
    call_block,
    message,
    post,
    scripted,
    stream,
)
from devtools.tests.tool_specs import CALCULATOR, CURRENT_TIME

NAMES = {"calculator", "current_time"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the project-wide Redis-clearing fixture: these tests touch no Django."""
    return


# ------------------------------------------------------------------------ parser (no model)


def test_several_tool_call_blocks():
    text = (
        call_block("calculator", {"expression": "2+2"})
        + "\n"
        + call_block("current_time", {"timezone": "Asia/Tokyo"})
    )
    parsed = parse_tool_output(text, NAMES)
    assert parsed.error is None
    assert parsed.content == ""
    assert parsed.calls == [
        ParsedCall("calculator", {"expression": "2+2"}),
        ParsedCall("current_time", {"timezone": "Asia/Tokyo"}),
    ]


def test_identical_calls_are_merged_and_string_arguments_parsed():
    block = '<tool_call>\n{"name": "calculator", "arguments": "{\\"expression\\": \\"1+1\\"}"}'
    parsed = parse_tool_output(f"{block}\n</tool_call>\n{block}\n</tool_call>", NAMES)
    assert parsed.calls == [ParsedCall("calculator", {"expression": "1+1"})]


def test_bare_json_and_fenced_json_are_calls():
    bare = '{"name": "calculator", "arguments": {"expression": "17*23"}}'
    assert parse_tool_output(bare, NAMES).calls == [
        ParsedCall("calculator", {"expression": "17*23"})
    ]
    fenced = '```json\n{\n  "name": "current_time",\n  "arguments": {"timezone": "UTC"}\n}\n```'
    parsed = parse_tool_output(fenced, NAMES)
    assert parsed.calls == [ParsedCall("current_time", {"timezone": "UTC"})]
    assert parsed.content == ""
    several = bare + '\n{"name": "current_time", "parameters": {"timezone": "UTC"}}\n'
    assert [c.name for c in parse_tool_output(several, NAMES).calls] == [
        "calculator",
        "current_time",
    ]


def test_text_before_a_call_is_the_content():
    text = "Let me compute that.\n" + call_block("calculator", {"expression": "6*7"})
    parsed = parse_tool_output(text, NAMES)
    assert parsed.content == "Let me compute that."
    assert parsed.calls == [ParsedCall("calculator", {"expression": "6*7"})]


def test_malformed_json_in_a_block_is_an_error_and_keeps_the_text():
    text = '<tool_call>\n{"name": "calculator", "arguments": {"expression": [}\n</tool_call>'
    parsed = parse_tool_output(text, NAMES)
    assert parsed.calls == []
    assert parsed.error
    assert parsed.content == text


def test_unknown_tool_or_bad_arguments_are_errors():
    assert parse_tool_output(call_block("rm_rf", {}), NAMES).error == "unknown tool 'rm_rf'"
    bad = '<tool_call>\n{"name": "calculator", "arguments": [1]}\n</tool_call>'
    assert "not a JSON object" in parse_tool_output(bad, NAMES).error
    assert parse_tool_output('{"name": "nope", "arguments": {}}', NAMES).error


def test_lenient_repairs():
    # a bare key, a missing closing brace, an extra one
    assert parse_tool_output(
        '<tool_call>\n{"name": "calculator", "arguments": {expression: "391"}}\n</tool_call>',
        NAMES,
    ).calls == [ParsedCall("calculator", {"expression": "391"})]
    assert parse_tool_output(
        '{"name": "calculator", "arguments": {"expression": "1+2"}', NAMES
    ).calls == [ParsedCall("calculator", {"expression": "1+2"})]
    assert parse_tool_output(
        '{"name": "calculator", "arguments": {"expression": "1+2"}}}', NAMES
    ).calls == [ParsedCall("calculator", {"expression": "1+2"})]
    assert parse_tool_output(
        '{{"name": "calculator", "arguments": {"expression": "1+2"}}', NAMES
    ).calls == [ParsedCall("calculator", {"expression": "1+2"})]
    # complete calls, then one cut by max_tokens: the complete ones are kept
    cut = '{"name": "calculator", "arguments": {"expression": "1"}}\n{"name": "calculator", "argu'
    assert parse_tool_output(cut, NAMES).calls == [ParsedCall("calculator", {"expression": "1"})]


def test_plain_text_and_json_answers_are_not_calls():
    for text in [
        "17 times 23 is 391.",
        '{"score": 1.0, "passed": true}',
        '{"name": "Ada", "age": 36}',
        "{curly braces} are used for sets in Python.",
        "```python\nprint(17*23)\n```",
    ]:
        parsed = parse_tool_output(text, NAMES)
        assert (parsed.calls, parsed.error, parsed.content) == ([], None, text), text


def _stream_all(text: str, step: int = 1, **kwargs: Any) -> tuple[list[str], str, Any]:
    stream = ToolCallStream(NAMES, **kwargs)
    out = [stream.feed(text[i : i + step]) for i in range(0, len(text), step)]
    tail, parsed = stream.finish()
    return [o for o in out if o], tail, parsed


@pytest.mark.parametrize("step", [1, 3, 7])
@pytest.mark.parametrize(
    "text",
    [
        "Hello there, how are you?",
        "  Spaced out text\n\n",
        "a <b>bold</b> claim <tool",
        "Let me check.\n" + call_block("calculator", {"expression": "2+2"}),
        '{"name": "calculator", "arguments": {"expression": "2+2"}}',
        '{"score": 1}',
        '```json\n{"name": "current_time", "arguments": {"timezone": "UTC"}}\n```',
        "```python\nprint(1)\n```",
        '<tool_call>\n{"name": "calculator", "arguments": {oops\n</tool_call>',
    ],
)
def test_streamed_content_equals_parsed_content(text, step):
    pieces, tail, parsed = _stream_all(text, step)
    assert "".join(pieces) + tail == parsed.content
    assert not any("<tool_call>" in p or '"name"' in p for p in pieces)


def test_held_back_prefixes():
    stream = ToolCallStream(NAMES)
    assert stream.feed("Sure") == "Sure"
    assert stream.feed(" <tool") == ""  # may open a call
    assert stream.feed("_") == ""
    assert stream.feed("call>\n{") == ""
    assert stream.mode == "call"
    stream = ToolCallStream(NAMES)
    assert stream.feed("x <to") == "x"
    assert stream.feed("day") == " <today"  # not a tag after all
    assert stream.feed("\n\n") == ""  # trailing whitespace waits for what follows
    assert stream.feed("ok") == "\n\nok"
    for opening in ["{", " \n{", "`", "``", "```", "```js", "```json", "```json\n"]:
        assert ToolCallStream(NAMES).feed(opening) == "", opening
    assert ToolCallStream(NAMES).feed("```python") == "```python"
    assert ToolCallStream(NAMES).feed("```\nprint") == "```\nprint"


def test_prefill_and_already_emitted_text():
    stream = ToolCallStream(NAMES, prefill=REQUIRED_PREFILL)
    assert stream.feed('calculator", "arguments": {"expression": "1"}}') == ""
    tail, parsed = stream.finish()
    assert (tail, parsed.calls) == ("", [ParsedCall("calculator", {"expression": "1"})])
    stream = ToolCallStream(NAMES, emitted="Let me see.")
    assert stream.feed(" It is 4.") == " It is 4."
    assert stream.finish()[1].content == "Let me see. It is 4."


# --------------------------------------------------------------------- conversation helpers


def test_template_messages_normalise_for_the_chat_template():
    msgs = template_messages(
        [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            *calculator_conversation(),
            {"role": "assistant", "content": "391"},
        ]
    )
    assert msgs[0] == {"role": "system", "content": "Be brief."}
    assert msgs[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "calculator", "arguments": {"expression": "17*23"}},
            }
        ],
    }
    assert msgs[3] == {"role": "tool", "content": "391"}


def test_tool_results_and_answer_now_prompt():
    conv = calculator_conversation('{"expression":"17*23"}')
    results = tool_results(conv)
    call = ParsedCall("calculator", {"expression": "17*23"})
    assert call.key in results  # same arguments, other spacing
    assert ParsedCall("calculator", {"expression": "17 * 23"}).key not in results
    msgs = answer_now_messages([{"role": "system", "content": "S"}, *conv], results, [call])
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"].startswith("What is 17*23?\n\nTool results:")
    assert '- calculator({"expression":"17*23"}) returned: 391' in msgs[1]["content"]
    assert "Do not call a tool." in msgs[1]["content"]


def test_request_validation():
    def params(**body: Any) -> GenParams:
        req = proto.parse_chat_request({"model": "m", "messages": QUESTION, **body})
        return ls.gen_params(req)

    assert params().temperature == 0.2
    got = params(temperature=0, top_p=0.5, seed=3, stop="x", max_tokens=9, ignore_eos=True)
    assert (got.temperature, got.top_p, got.seed, got.stop, got.max_tokens, got.ignore_eos) == (
        0.0,
        0.5,
        3,
        ["x"],
        9,
        True,
    )
    for bad in [{"temperature": 3}, {"top_p": "x"}, {"seed": 1.5}, {"n": 2}, {"logprobs": True}]:
        with pytest.raises(proto.OpenAIError) as info:
            params(**bad)
        assert info.value.status == 400


def test_cli_parser_is_shared_with_the_management_command():
    from devtools.management.commands.serve_local_llm import Command

    argv = ["--port", "8811", "--spec", "qwen2.5-coder-0.5b", "--n-ctx", "1024", "--n-threads", "1"]
    options = vars(ls.build_parser().parse_args(argv))
    command = vars(Command().create_parser("manage.py", "serve_local_llm").parse_args(argv))
    for key, value in options.items():
        assert command[key] == value
    assert options["port"] == 8811
    assert ls.model_name_for(ls.resolve_spec(options["spec"])) == "qwen2.5-coder-0.5b-instruct"
    with pytest.raises(ValueError, match="unknown model spec"):
        ls.resolve_spec("gpt-9")


# -------------------------------------------------------------- HTTP with a scripted model


def test_scripted_malformed_call_is_retried_once_at_temperature_zero():
    """A call the grammar did not shape (a backend without one, or cut short) is retried once,
    at temperature 0, when the retry can differ from the first try."""
    bad = '<tool_call>\n{"name": "calculator", "arguments": {"expression": [}\n</tool_call>'
    good = 'calculator", "arguments": {"expression": "2+2"}}'
    backend, server = scripted(bad, good, bad, bad, bad)
    required = {"messages": QUESTION, "tools": [CALCULATOR], "tool_choice": "required"}
    with server as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        streamed = stream(client, **required, temperature=0.7)
        assert [p.temperature for p in backend.params] == [0.7, 0.0]
        assert backend.prompts[1].endswith("ASSISTANT:\n" + REQUIRED_PREFILL)
        assert [c["name"] for c in streamed["calls"]] == ["calculator"]
        # unparsable twice: no call, and words that say so
        msg = message(post(client, **required, temperature=0.7))
        assert (msg["content"], msg.get("tool_calls")) == (UNREADABLE_CALL, None)
        # a retry would repeat the first try exactly (same prefill, temperature 0): none
        before = len(backend.params)
        msg = message(post(client, **required, temperature=0))
        assert len(backend.params) - before == 1
        assert msg["content"] == UNREADABLE_CALL
        assert srv.stats()["retries"] == 2


def test_scripted_prefills_for_required_and_named_tool_choice():
    backend, server = scripted(
        'calculator", "arguments": {"expression": "1+1"}}\n</tool_call>',
        '{"timezone": "UTC"}}\n',
    )
    with server as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        msg = message(
            post(
                client, messages=QUESTION, tools=[CALCULATOR, CURRENT_TIME], tool_choice="required"
            )
        )
        assert msg["tool_calls"][0]["function"]["name"] == "calculator"
        named = {"type": "function", "function": {"name": "current_time"}}
        streamed = stream(
            client, messages=QUESTION, tools=[CALCULATOR, CURRENT_TIME], tool_choice=named
        )
    assert backend.prompts[0].endswith('ASSISTANT:\n<tool_call>\n{"name": "')
    assert backend.prompts[1].endswith(
        'ASSISTANT:\n<tool_call>\n{"name": "current_time", "arguments": '
    )
    assert "</tool_call>" in backend.params[1].stop  # one call only
    assert streamed["calls"][0]["name"] == "current_time"
    assert json.loads(streamed["calls"][0]["arguments"]) == {"timezone": "UTC"}
    assert streamed["content"] == ""


def test_scripted_tool_choice_none_offers_no_tools():
    backend, server = scripted('{"name": "calculator", "arguments": {}}')
    with server as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        msg = message(post(client, messages=QUESTION, tools=[CALCULATOR], tool_choice="none"))
    assert msg["content"] == '{"name": "calculator", "arguments": {}}'
    assert "tool_calls" not in msg
    assert '"tools": []' in backend.prompts[0]


def test_scripted_repeated_call_is_refused_and_answered_without_tools():
    repeat = '{"name": "calculator", "arguments": {"expression": "17 * 23"}}'
    backend, server = scripted(repeat, "17*23 is 391.", repeat, repeat)
    conv = calculator_conversation('{"expression": "17 * 23"}')
    with server as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        streamed = stream(client, messages=conv, tools=[CALCULATOR])
        assert (streamed["content"], streamed["calls"], streamed["finish"]) == (
            "17*23 is 391.",
            [],
            "stop",
        )
        second = backend.prompts[1]
        assert '"tools": []' in second
        assert "Tool results:" in second
        assert "returned: 391" in second
        # the model insists: the call is dropped and the results are quoted instead
        msg = message(post(client, messages=conv, tools=[CALCULATOR]))
        assert "tool_calls" not in msg
        assert "391" in msg["content"]
        assert srv.stats()["repeated_calls_refused"] == 2


def test_scripted_new_calls_pass_and_repeats_are_dropped():
    reply = (
        '{"name": "calculator", "arguments": {"expression": "17*23"}}\n'
        '{"name": "calculator", "arguments": {"expression": "391+1"}}'
    )
    _, server = scripted(reply)
    with server as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        msg = message(post(client, messages=calculator_conversation(), tools=[CALCULATOR]))
    assert [json.loads(c["function"]["arguments"]) for c in msg["tool_calls"]] == [
        {"expression": "391+1"}
    ]


def test_scripted_requests_run_one_at_a_time():
    backend, server = scripted(*["one two three four"] * 4, delay=0.01)
    with (
        server as srv,
        httpx.Client(base_url=srv.base_url, timeout=10) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        answers = list(pool.map(lambda _: post(client, messages=QUESTION), range(4)))
    assert [message(a)["content"] for a in answers] == ["one two three four"] * 4
    assert backend.max_running == 1


def test_scripted_a_chat_stream_stops_background_work_and_goes_first():
    """Titles, memory and judges send plain requests; a person's chat is streamed. A stream
    arriving stops the plain request (503, Retry-After: the ring and Celery retry it later),
    and a plain request waiting behind the stream lets it go first."""
    slow_background = "word " * 200
    backend, server = scripted(slow_background, "for the person", "later work", delay=0.01)
    with (
        server as srv,
        httpx.Client(base_url=srv.base_url, timeout=30) as client,
        ThreadPoolExecutor(2) as pool,
    ):
        background = pool.submit(post, client, messages=QUESTION)
        while not backend.running:
            time.sleep(0.01)
        waiting = pool.submit(post, client, messages=QUESTION)
        streamed = stream(client, messages=QUESTION)
        refused, served_after = background.result(), waiting.result()
    assert streamed["content"] == "for the person"
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["error"]["code"] == "preempted"
    assert message(served_after)["content"] == "later work"


def test_scripted_errors_are_openai_json():
    _, server = scripted()
    with server as srv, httpx.Client(base_url=srv.base_url, timeout=10) as client:
        bad = client.post("/chat/completions", content=b"{not json")
        assert bad.status_code == 400
        assert set(bad.json()["error"]) == {"message", "type", "param", "code"}
        assert post(client, messages=[]).status_code == 400
        assert post(client, messages=QUESTION, temperature=-1).json()["error"]["param"] == (
            "temperature"
        )
        assert client.get("/nope").status_code == 404
        assert client.get(srv.root_url + "/health").json()["status"] == "ok"


# ---------------------------------------------------------------------- the real 0.5B model


HELLO = {
    "messages": [{"role": "user", "content": "Name three colours of the rainbow."}],
    "max_tokens": 12,
    "temperature": 0,
    "seed": 7,
}


def test_models(llm_client):
    body = llm_client.get("/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["qwen-test"]


def test_answer_streamed_equals_non_streamed(llm_client):
    msg_response = post(llm_client, **HELLO)
    body = msg_response.json()
    msg = message(msg_response)
    assert body["model"] == "qwen-test"
    assert isinstance(msg["content"], str)
    assert msg["content"].strip()
    assert "tool_calls" not in msg
    usage = body["usage"]
    assert usage["prompt_tokens"] > 10
    assert 1 <= usage["completion_tokens"] <= 12
    assert body["choices"][0]["finish_reason"] in ("stop", "length")

    streamed = stream(llm_client, **HELLO)
    assert streamed["content"] == msg["content"]
    assert len(streamed["pieces"]) > 1  # really streamed, token by token
    assert streamed["finish"] == body["choices"][0]["finish_reason"]
    assert streamed["usage"] == usage


def _assert_calculator_call(call_name: str, arguments: str) -> None:
    assert call_name == "calculator"
    assert "expression" in json.loads(arguments)


def test_required_tool_choice_gives_a_real_tool_call(llm_client):
    request = {
        "messages": QUESTION,
        "tools": [CALCULATOR],
        "tool_choice": "required",
        "max_tokens": 40,
        "temperature": 0,
    }
    response = post(llm_client, **request)
    msg = message(response)
    assert response.json()["choices"][0]["finish_reason"] == "tool_calls"
    (call,) = msg["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    _assert_calculator_call(call["function"]["name"], call["function"]["arguments"])

    streamed = stream(llm_client, **request)
    assert streamed["finish"] == "tool_calls"
    assert streamed["content"] == ""
    (call,) = streamed["calls"]
    assert call["id"].startswith("call_")
    _assert_calculator_call(call["name"], call["arguments"])


def test_after_the_result_the_model_answers_in_text(llm_client):
    """The agent loop: offer the tool, feed back "391" for every call, until a text answer.

    The 0.5B model does not stop after the first result: it calls calculator("391") (a new
    call, so it is returned) and then that same call again, which is refused; the answer is
    then generated without tools. No returned call ever repeats one that has its result."""
    messages = list(QUESTION)
    for _round in range(4):
        msg = message(
            post(llm_client, messages=messages, tools=[CALCULATOR], max_tokens=48, temperature=0)
        )
        if not msg.get("tool_calls"):
            break
        known = tool_results(messages)
        for call in msg["tool_calls"]:
            fn = call["function"]
            assert tool_call_key(fn["name"], fn["arguments"]) not in known, "a repeated call"
        messages.append(msg)
        messages.extend(
            {"role": "tool", "tool_call_id": c["id"], "content": "391"} for c in msg["tool_calls"]
        )
    else:
        pytest.fail(f"no text answer after 4 rounds: {messages}")
    assert isinstance(msg["content"], str)
    assert msg["content"].strip()
    assert "391" in msg["content"]
    assert len(messages) > 1  # at least one call was made first


def test_a_long_prompt_can_be_stopped_between_batches(local_llm, monkeypatch):
    """A chat stream preempting background work must not wait for a long prompt's whole
    evaluation: it stops after the batch under way."""
    backend = local_llm.app.backend
    llama, cancel, batches = backend.llama, threading.Event(), []
    evaluate = llama.eval

    def evaluate_then_cancel(batch):
        batches.append(len(batch))
        evaluate(batch)
        cancel.set()  # as a stream arriving now would

    monkeypatch.setattr(llama, "eval", evaluate_then_cancel)
    tokens = backend.tokenize(" ".join(f"fact {n}." for n in range(400)))
    assert len(tokens) > 2 * llama.n_batch
    result = backend.generate(tokens, GenParams(max_tokens=5), cancel, lambda piece: None)
    assert (result.cancelled, result.completion_tokens) == (True, 0)
    assert batches == [llama.n_batch]


def test_disconnect_mid_stream_frees_the_model(local_llm, llm_client):
    request = {
        "model": "any",
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
        "max_tokens": 1000,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
    }
    before = local_llm.stats()
    with (
        httpx.Client(base_url=local_llm.base_url, timeout=60) as other,
        other.stream("POST", "/chat/completions", json=request) as response,
    ):
        pieces = 0
        for line in response.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                pieces += 1
                if pieces == 2:
                    break
        assert local_llm.stats()["busy"]
    left = time.monotonic()  # the client closed the connection
    while local_llm.stats()["busy"] and time.monotonic() - left < 10:
        time.sleep(0.01)
    freed_after = time.monotonic() - left
    after = local_llm.stats()
    assert not after["busy"]
    assert freed_after < 2.0, freed_after  # within a token or two (plus a loaded machine)
    assert after["disconnected"] == before["disconnected"] + 1
    assert after["completion_tokens"] - before["completion_tokens"] < 100  # not 1000
    answer = post(llm_client, **{**HELLO, "max_tokens": 4})
    assert message(answer)["content"]


def test_context_overflow_is_a_400(llm_client):
    too_long = post(llm_client, messages=QUESTION, max_tokens=4000)
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "context_length_exceeded"
    huge = [{"role": "user", "content": "lorem ipsum " * 2000}]
    response = post(llm_client, messages=huge, max_tokens=5, stream=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_stop_sequence(llm_client):
    full = message(post(llm_client, **HELLO))["content"]
    word = full.split()[1]
    cut = message(post(llm_client, **HELLO, stop=[word]))["content"]
    assert cut == full[: full.index(word)]


def test_langchain_openai_reads_the_streamed_tool_calls(local_llm):
    """The model ring talks to us through langchain-openai: its stream parser must agree."""
    import asyncio

    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="qwen-test",
        base_url=local_llm.base_url,
        api_key="unused",
        temperature=0,
        max_tokens=40,
        stream_usage=True,
    )
    bound = llm.bind_tools([CALCULATOR], tool_choice="required")

    async def collect():
        message = None
        async for chunk in bound.astream("What is 17*23?"):
            message = chunk if message is None else message + chunk
        return message

    message = asyncio.run(collect())
    (call,) = message.tool_calls
    assert call["name"] == "calculator"
    assert "expression" in call["args"]
    assert call["id"].startswith("call_")
    assert message.usage_metadata["input_tokens"] > 0
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_response_format_json_schema(llm_client):
    schema = {
        "type": "object",
        "properties": {"score": {"type": "number"}, "reason": {"type": "string"}},
        "required": ["score", "reason"],
    }
    msg = message(
        post(
            llm_client,
            messages=[
                {"role": "system", "content": "Grade the answer. Reply in JSON."},
                {"role": "user", "content": "Q: 2+2? A: 4"},
            ],
            response_format={"type": "json_schema", "json_schema": {"name": "g", "schema": schema}},
            max_tokens=60,
            temperature=0,
        )
    )
    graded = json.loads(msg["content"])
    assert set(graded) == {"score", "reason"}
    assert isinstance(graded["score"], int | float)


def ring_on_the_real_model(settings, local_llm) -> None:
    """The ring on the 0.5B server alone, with closed breakers and the patience a real model
    on two cores needs (an answer after a tool result can take tens of seconds)."""
    from agents.llm import ring

    settings.LLM_MODELS = f"qwen-test@{local_llm.base_url}"
    settings.LLM_POLICY = {
        **settings.LLM_POLICY,
        "budget": 180.0,
        "request_timeout": 180.0,
        "first_token_timeout": 180.0,
    }
    ring.ring_config.cache_clear()
    for purpose in ("chat", "routing"):
        ring.breaker().reset(f"qwen-test/{purpose}")


@pytest.mark.django_db(transaction=True)  # the ring records its LLM calls
def test_the_agent_runs_end_to_end_on_the_real_model(local_llm, settings):
    """The whole stack on real weights: the supervisor hands an `auto` turn to the general
    assistant, which, through the model ring, calls the calculator on the 0.5B model, gets 391
    back and answers in words."""
    import asyncio
    import uuid

    from langchain_core.messages import AIMessage, ToolMessage

    from agents.graph.context import Context
    from agents.graph.graph import build_graph
    from agents.llm.recorder import recorder
    from agents.models import LLMCall

    ring_on_the_real_model(settings, local_llm)
    agent = build_graph()  # no checkpointer: one turn
    result = asyncio.run(
        agent.ainvoke(
            {"question": "Use the calculator: what is 17*23?"},
            {"recursion_limit": 12},
            context=Context(user_id=str(uuid.uuid4()), max_tokens=64),
        )
    )
    messages = result["messages"]
    calls = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert calls
    assert calls[0].tool_calls[0]["name"] == "calculator"
    assert "391" in [r.content for r in results]
    final = messages[-1]
    assert isinstance(final, AIMessage)
    assert not final.tool_calls
    assert final.content.strip()
    recorder.flush()
    assert LLMCall.objects.filter(model="qwen-test", status="ok").count() >= 2


@pytest.mark.django_db(transaction=True)  # the ring records its LLM calls
@pytest.mark.parametrize(
    ("question", "specialist"),
    [
        ("What is 17*23?", "general"),
        ("Summarize the PDF I uploaded.", "researcher"),
    ],
)
def test_the_supervisor_routes_on_the_real_model(local_llm, settings, question, specialist):
    """The 0.5B model, as the supervisor of an `auto` turn, hands each question to the
    specialist that fits it (one routing call: a handoff tool, chosen under the grammar). The
    0.5B routes 6 of the 8 probe questions of docs/architecture.md right, the 1.5B all 8."""
    import asyncio
    import uuid

    from langchain_core.messages import HumanMessage

    from agents.graph.context import Context
    from agents.graph.supervisor.graph import supervise

    ring_on_the_real_model(settings, local_llm)

    class Runtime:
        context = Context(user_id=str(uuid.uuid4()))  # a person with no documents

        @staticmethod
        def stream_writer(chunk):
            pass

    state = {"messages": [HumanMessage(question)]}
    command = asyncio.run(supervise(state, {}, Runtime()))
    assert command.goto == specialist
    assert command.update["handoffs"][0]["name"] == specialist
