"""What the tests of our local model server share: a scripted stand-in for the model, and
helpers that post chat requests and reassemble streamed answers."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from devtools.llmservers.local import GenParams, GenResult, running_local_server

QUESTION = [{"role": "user", "content": "What is 17*23?"}]


def call_block(name: str, args: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


def calculator_conversation(
    args: str = '{"expression": "17*23"}', result: str = "391"
) -> list[dict]:
    """The person asks 17*23, the model calls the calculator, the tool answers."""
    return [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": args},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]


class ScriptedBackend:
    """Stands in for :class:`LlamaBackend`: renders messages as JSON, one token per character,
    and "generates" the scripted replies in 4-character pieces -- after the part of the reply
    that the prompt already ends with (a prefill)."""

    n_ctx = 100_000

    def __init__(self, *replies: str, delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.delay = delay
        self.prompts: list[str] = []
        self.params: list[GenParams] = []
        self.running = 0
        self.max_running = 0

    def render(self, messages, tools):
        names = [t["function"]["name"] for t in tools or ()]
        return json.dumps({"messages": messages, "tools": names}) + "\nASSISTANT:\n"

    def tokenize(self, text):
        return [ord(c) for c in text]

    def name_choice(self, tokens, prefill, names, cancel, background=False):
        """The scripted model "chooses" the tool its next reply calls (a bare JSON object that
        names it), else the last name (auto's words)."""
        reply = self.replies[0].lstrip() if self.replies else ""
        chosen = next((n for n in names if reply.startswith(f'{{"name": "{n}"')), names[-1])
        return [((chosen,), 1.0), *(((n,), 0.0) for n in names if n != chosen)]

    def generate(self, tokens, params, cancel, emit):
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            prompt = "".join(map(chr, tokens))
            self.prompts.append(prompt)
            self.params.append(params)
            reply = self.replies.pop(0) if self.replies else "ok"
            reply = reply[max(k for k in range(len(reply) + 1) if prompt.endswith(reply[:k])) :]
            count = 0
            for i in range(0, len(reply), 4):
                if cancel.is_set():
                    return GenResult("stop", count, True)
                if self.delay:
                    time.sleep(self.delay)
                emit(reply[i : i + 4])
                count += 1
            return GenResult("stop", count + 1)
        finally:
            self.running -= 1


def post(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/chat/completions", json={"model": "any", **body})


def stream(client: httpx.Client, **body: Any) -> dict[str, Any]:
    """A streamed request, reassembled: content, tool calls, finish reason, usage, chunks."""
    content, calls, finish, usage, chunks = [], {}, None, None, 0
    payload = {"model": "any", "stream": True, "stream_options": {"include_usage": True}, **body}
    with client.stream("POST", "/chat/completions", json=payload) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            if delta.get("content"):
                content.append(delta["content"])
                chunks += 1
            for call in delta.get("tool_calls") or ():
                entry = calls.setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                entry["id"] = call.get("id") or entry["id"]
                fn = call.get("function") or {}
                entry["name"] = fn.get("name") or entry["name"]
                entry["arguments"] += fn.get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return {
        "content": "".join(content),
        "pieces": content,
        "calls": [calls[i] for i in sorted(calls)],
        "finish": finish,
        "usage": usage,
    }


def message(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]


def scripted(*replies: str, delay: float = 0.0):
    backend = ScriptedBackend(*replies, delay=delay)
    return backend, running_local_server(backend=backend, model_name="scripted")
