"""The local model's prompt cache: the slot policy with fake states (no model), then the real
0.5B model behind our server (prompt tokens evaluated and taken from the cache, as counted in
``/health``).

Run: ``.venv/bin/python -m pytest devtools/tests/test_local_cache.py -q``
"""

from __future__ import annotations

import httpx
import pytest

from devtools.llmservers.local.prompt_cache import PromptCache, common_prefix
from devtools.tests.local_server_kit import message, post, stream
from devtools.tests.tool_specs import CALCULATOR, CURRENT_TIME


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the project-wide Redis-clearing fixture: these tests touch no Django."""
    return


# ------------------------------------------------------------------ slot policy (no model)

SYSTEM = list(range(100))  # a fixed prefix shared by every chat


def _chat(*tail: int) -> list[int]:
    return SYSTEM + list(tail)


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0


def test_the_longest_common_prefix_wins():
    cache = PromptCache(4)
    assert cache.longest(_chat(1)) == (None, 0)
    short = cache.store(_chat(1), _chat(1), "s1", background=False)
    long = cache.store(_chat(2, 3, 4), _chat(2, 3, 4, 5), "s2", background=False)
    assert cache.longest(_chat(2, 3, 4, 5, 6)) == (long, 104)
    assert cache.longest(_chat(1, 9)) == (short, 101)
    assert cache.longest([7, 7]) == (None, 0)


def test_a_later_call_of_a_conversation_replaces_its_slot_and_another_does_not():
    cache = PromptCache(4)
    first = cache.store(_chat(1), _chat(1, 50), "turn 1", background=False)
    # the next turn starts with turn 1's whole prompt (then the answer, re-rendered, and more)
    assert cache.store(_chat(1, 51, 2), _chat(1, 51, 2, 60), "turn 2", background=False) is first
    assert (first.state, first.prompt_len) == ("turn 2", 103)
    # another session shares only the system prompt: a slot of its own
    other = cache.store(_chat(3), _chat(3, 70), "session 2", background=False)
    assert other is not first
    assert len(cache.slots) == 2


def test_background_work_never_evicts_a_chat_slot():
    cache = PromptCache(3)
    pinned = cache.pin(SYSTEM, "system")
    chats = [cache.store(_chat(n), _chat(n, 50), f"chat {n}", background=False) for n in (1, 2)]
    assert cache.store([9, 9], [9, 9, 9], "title", background=True) is None
    assert cache.slots == [pinned, *chats]
    assert [s.state for s in cache.slots] == ["system", "chat 1", "chat 2"]


def test_background_work_evicts_its_own_least_recently_used_slot():
    cache = PromptCache(4)
    cache.pin(SYSTEM, "system")
    chat = cache.store(_chat(1), _chat(1), "chat", background=False)
    title = cache.store([8, 1], [8, 1, 2], "title", background=True)
    memory = cache.store([9, 1], [9, 1, 2], "memory", background=True)
    cache.longest([8, 1, 5])  # the title slot was used since
    judge = cache.store([7, 1], [7, 1, 2], "judge", background=True)
    assert judge is memory
    assert [s.state for s in cache.slots] == ["system", "chat", "title", "judge"]
    assert cache.slots[1:3] == [chat, title]


def test_a_chat_evicts_the_least_recently_used_slot_but_never_the_pinned_one():
    cache = PromptCache(3)
    pinned = cache.pin(SYSTEM, "system")
    cache.store(_chat(1), _chat(1), "old chat", background=False)
    cache.store([8, 1], [8, 1], "title", background=True)
    cache.longest(_chat(1, 2))  # the old chat was used since: the title is the oldest
    cache.store(_chat(2), _chat(2), "new chat", background=False)
    assert [s.state for s in cache.slots] == ["system", "old chat", "new chat"]
    for n in range(3, 8):
        cache.store(_chat(n), _chat(n), f"chat {n}", background=False)
        assert len(cache.slots) == 3
        assert pinned in cache.slots
    assert sorted(s.state for s in cache.slots) == ["chat 6", "chat 7", "system"]


def test_a_new_fixed_prefix_replaces_the_pinned_one():
    cache = PromptCache(2)
    first = cache.pin(SYSTEM, "system at 10:41")
    assert cache.pin([*SYSTEM[:10], 5], "system at 10:42") is first
    assert [s.state for s in cache.slots] == ["system at 10:42"]
    assert cache.pin(SYSTEM, "again") is first


def test_no_slots_keeps_nothing():
    cache = PromptCache(0)
    assert cache.pin(SYSTEM, "system") is None
    assert cache.store(_chat(1), _chat(1), "chat", background=False) is None
    assert cache.slots == []


# ---------------------------------------------------------------------- the real 0.5B model

LONG_SYSTEM = "You are a careful assistant.\n" + "\n".join(
    f"Rule {n}: when asked about the number {n}, answer with its square." for n in range(1, 30)
)


def _turn(*user_and_assistant: str) -> list[dict]:
    """A conversation after the long system prompt: user, assistant, user, ..."""
    roles = ("user", "assistant")
    return [
        {"role": "system", "content": LONG_SYSTEM},
        *({"role": roles[i % 2], "content": text} for i, text in enumerate(user_and_assistant)),
    ]


def _chat_request(client: httpx.Client, *user_and_assistant: str) -> dict:
    return stream(
        client,
        messages=_turn(*user_and_assistant),
        tools=[CALCULATOR, CURRENT_TIME],
        max_tokens=24,
        temperature=0,
    )


def _counted(server, request) -> tuple[dict, int, int]:
    """The answer, and the prompt tokens it evaluated and took from the cache."""
    before = server.stats()
    answer = request()
    after = server.stats()
    evaluated = after["prompt_tokens_evaluated"] - before["prompt_tokens_evaluated"]
    return answer, evaluated, after["prompt_tokens_cached"] - before["prompt_tokens_cached"]


@pytest.fixture
def client(local_llm):
    backend = local_llm.app.backend
    backend.cache.clear()  # each test starts cold: no saved state, an empty KV cache
    backend.llama.reset()
    with httpx.Client(base_url=local_llm.base_url, timeout=180) as client:
        yield client


def test_a_later_turn_evaluates_only_its_new_tokens_and_answers_as_cold(local_llm, client):
    first, evaluated, cached = _counted(local_llm, lambda: _chat_request(client, "Hi, I am Ada."))
    prompt = first["usage"]["prompt_tokens"]
    assert (evaluated, cached) == (prompt, 0)
    assert prompt > 600

    turn = ("Hi, I am Ada.", first["content"], "What is the square of 12?")
    second, evaluated, cached = _counted(local_llm, lambda: _chat_request(client, *turn))
    assert cached >= prompt  # the whole first prompt, and more (the answer)
    assert evaluated + cached == second["usage"]["prompt_tokens"]
    assert evaluated < 40

    local_llm.app.backend.cache.clear()
    local_llm.app.backend.llama.reset()
    cold, evaluated, cached = _counted(local_llm, lambda: _chat_request(client, *turn))
    assert (evaluated, cached) == (second["usage"]["prompt_tokens"], 0)
    assert (cold["content"], _without_ids(cold["calls"])) == (
        second["content"],
        _without_ids(second["calls"]),
    )


def _without_ids(calls: list[dict]) -> list[tuple[str, str]]:
    return [(call["name"], call["arguments"]) for call in calls]


def test_background_work_between_two_turns_does_not_cost_the_chat_its_prefix(local_llm, client):
    first = _chat_request(client, "Hi, I am Ada.")
    title = {
        "messages": [
            {"role": "system", "content": "Write a title of at most five words."},
            {"role": "user", "content": "Hi, I am Ada."},
        ],
        "max_tokens": 12,
    }
    _, evaluated, _ = _counted(local_llm, lambda: message(post(client, **title)))
    assert evaluated > 10  # it ran on the model, over the chat's KV cache

    turn = ("Hi, I am Ada.", first["content"], "What is the square of 12?")
    _, evaluated, cached = _counted(local_llm, lambda: _chat_request(client, *turn))
    assert cached >= first["usage"]["prompt_tokens"]
    assert evaluated < 40


def test_a_new_session_starts_from_the_pinned_system_prompt(local_llm, client):
    backend = local_llm.app.backend
    _chat_request(client, "Hi, I am Ada.")
    (pinned,) = [s for s in backend.cache.slots if s.pinned]
    assert len(pinned.tokens) > 600  # the system prompt and the tools

    for question in ("What is 6 times 7?", "Which time is it in Tokyo?", "Hello there."):
        answer, evaluated, cached = _counted(local_llm, lambda q=question: _chat_request(client, q))
        assert cached >= len(pinned.tokens)
        assert evaluated + cached == answer["usage"]["prompt_tokens"]
