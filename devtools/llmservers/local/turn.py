"""One chat request from prompt to answer: the generation(s) and what is done with tool calls.

Usage: ``prompt_tokens`` is the length of the tokenized prompt; ``completion_tokens`` counts every
token sampled for the answer (the end-of-turn token included, and the tokens of a retry or a
regeneration, see below).

``tool_choice``: ``none`` -> tools are not offered (not rendered, not parsed); ``required`` -> the
assistant turn is prefilled with ``<tool_call>\\n{"name": "``; a named function ->
``<tool_call>\\n{"name": "<name>", "arguments": `` (one call only, as with
``parallel_tool_calls: false``). A prefilled call is generated under the offered tools' grammar
(:mod:`.grammar`), so it parses, names an offered tool and has schema-valid arguments: one call
per generation. ``auto`` -> first the model's choice, made as a choice of name: the offered tools
are rendered with one more, :data:`WORDS_TOOL_NAME` ("reply in words, with no tool: greetings,
small talk, writing, what no other tool can do"), a call is opened for the model
(``<tool_call>\n{"name": "``) and its next token's probabilities are split between the names
(:meth:`LlamaBackend.name_choice`). A tool is called only when it takes at least
:data:`CALL_CONFIDENCE` of that choice; the call is then prefilled up to its arguments and
generated under that tool's grammar. With ``parallel_tool_calls``, one more call is then opened
after it and chosen by name the same way (:meth:`Turn._more_calls`), until words win, a call
repeats one of the answer, or :data:`MAX_PARALLEL_CALLS`: measured on the 1.5B, the tool took
0.98 to 1.00 of that second choice for the 6 two-part questions ("the time in Tokyo and in
Paris", "18*3, then times 2") and at most 0.48 for 9 one-part ones; left to the grammar, which
let it close the call and open another, it never did (the end of the turn took 1.00). Otherwise
the answer is words, written as the arguments of a call to the words tool (the call opened up to
them), and sent as the text its ``message`` string decodes to
(:class:`.jsonstring.JsonStringStream`). Its first argument, :data:`OUTSIDE_ACTION` ("the
request needs an action no tool can do"), is chosen as the tool was, between ``true`` and
``false``; when ``true`` wins the message opens with :data:`REFUSAL_OPENING` ("Sorry, I can't"):
on the 1.5B, the 6 requests for a missing tool (book a flight, email, pizza, lights, alarm,
tweet) gave ``true`` 0.54 to 0.92 and the 30 other first turns 0.04 to 0.48; told in the system
prompt and the words tool's description to say it can't, it wrote "Sure, I'll turn off the
lights" for 4 of the 6. Words not written as a call are worse:
left to write freely, the 1.5B wrote 6 of 18 answers as fenced calls (```python
{"name": "recall_memory", ...}```). Measured on the 1.5B (the agent's prompt and tools, 16 first
turns): the chosen tool took 0.90 to 1.00 for the 8 that need a tool; of the 8 that need none,
6 chose words and 2 a tool with 0.54 and 0.63 ("Suggest a name for a boat" -> current_time),
so all 16 went right. The plainer first step, the probability that the answer opens with a
call, did not separate them: 0.53 to 0.79 for the tool prompts, 0.68 for "Hi! How are you
today?". After tool results, ``auto``'s prompt is the one that states them and asks for the
answer, or a call for what they leave unanswered (:func:`answer_now_messages`): from the
template's own conversation the 0.5B model called again (391 / 23 after 17*23 -> 391) and the
1.5B thanked the calculator. A call written in words (``required``'s, a retry's) that cannot
be parsed is retried once, at temperature 0, prefilled and under the grammar (after any text
already sent); not when that would repeat the first try exactly, nor after ``max_tokens`` cut
it. If the retry fails too, only the text before the attempt is returned (or
:data:`UNREADABLE_CALL`).

Repeated calls: a parsed call whose name and arguments (compared as parsed JSON) already have a
``tool`` result in the conversation is refused (dropped; the other calls of the answer are
returned). When every call of an answer is such a repeat, the answer is generated again without
tools, from the prompt that states the results (:func:`answer_now_messages`;
the plainer "append a system message" variant makes both models echo the question, and keeping
the tools in the prompt makes the 0.5B model call again). That prompt shares no cached prefix, so
this path costs a full prompt evaluation. A repeated call is never returned: if the model still
writes a call, it is dropped, and when nothing else is left the content lists the tool results.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.local.backend import GenParams, GenResult
from devtools.llmservers.local.conversation import (
    ToolResult,
    answer_now_messages,
    results_summary,
    template_messages,
    tool_results,
    turn_results,
)
from devtools.llmservers.local.grammar import call_head, tool_call_grammar
from devtools.llmservers.local.jsonstring import JsonStringStream
from devtools.llmservers.local.toolcalls import (
    REQUIRED_PREFILL,
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    ParsedCall,
    ParsedOutput,
    ToolCallStream,
)
from devtools.llmservers.protocol import JSON, ChatRequest, ToolCall, Usage

if TYPE_CHECKING:  # pragma: no cover
    from devtools.llmservers.local.server import LocalServer

logger = logging.getLogger(__name__)

__all__ = ["CALL_CONFIDENCE", "UNREADABLE_CALL", "WORDS_TOOL_NAME", "Turn", "TurnResult"]

CALL_CONFIDENCE = 0.8  # the share of ``auto``'s choice a tool needs to be called (docstring)
MAX_PARALLEL_CALLS = 4  # calls in one ``auto`` answer
UNREADABLE_CALL = "(The model tried to call a tool but wrote no valid call.)"
WORDS_TOOL_NAME = "answer_directly"
WORDS_END = '"}'  # the end of the words' string (and of the call's arguments)
WORDS_TOOL_DESCRIPTION = (
    "Reply to the person in words, with no tool: greetings, thanks, small talk, jokes, "
    "opinions, advice, writing, explanations, things you know. Also for a request that no "
    "tool can carry out (book, order, send, post, switch on or off): reply that you can't."
)
OUTSIDE_ACTION = "needs_outside_action"
OUTSIDE_ACTION_DESCRIPTION = (
    "true when the person asks you to do something in the world that none of the tools can do "
    "(book, buy, order, send, post, set an alarm, switch something on or off); false for "
    "questions, chat and writing"
)
REFUSAL_CONFIDENCE = 0.5  # the share of ``true`` that makes the words a refusal (docstring)
REFUSAL_OPENING = "Sorry, I can't"


async def _no_text(text: str) -> None:
    """Where the text of a later call goes: nowhere (a call's text is held, never sent)."""


def words_tool(taken: frozenset[str]) -> JSON:
    """The tool that stands for an answer in words in ``auto``'s choice (a name no offered
    tool has). Its first argument says whether the request needs an action no tool can do."""
    name = WORDS_TOOL_NAME
    while name in taken:
        name += "_"
    outside = {"type": "boolean", "description": OUTSIDE_ACTION_DESCRIPTION}
    message = {"type": "string", "description": "your reply"}
    parameters = {
        "type": "object",
        "properties": {OUTSIDE_ACTION: outside, "message": message},
        "required": [OUTSIDE_ACTION, "message"],
    }
    function = {"name": name, "description": WORDS_TOOL_DESCRIPTION, "parameters": parameters}
    return {"type": "function", "function": function}


@dataclass
class TurnResult:
    content: str
    calls: list[ToolCall]
    finish_reason: str
    usage: Usage
    cancelled: bool = False


class Turn:
    """One chat request: prompt, generation(s), tool-call handling (module docstring)."""

    def __init__(self, server: LocalServer, req: ChatRequest, params: GenParams, cancel):
        self.server = server
        self.req = req
        self.params = params
        self.cancel: threading.Event = cancel
        self.messages = template_messages(req.messages)
        known = tool_results(req.messages)
        if req.tool_choice == "auto" and turn_results(req.messages, known):
            # The prompt that states the results; a second tool may still be chosen.
            self.messages = answer_now_messages(req.messages, known, [], calls_allowed=True)
        self.tools = req.tools if req.tool_choice != "none" else []
        if req.tool_choice == "named":
            self.names: frozenset[str] = frozenset({req.tool_choice_name or ""})
            self.call_prefill = f"{TOOL_CALL_OPEN}\n{call_head(req.tool_choice_name or '')}"
        else:
            self.names = frozenset(t["function"]["name"] for t in self.tools)
            self.call_prefill = REQUIRED_PREFILL
        self.prefill = self.call_prefill if req.tool_choice in ("named", "required") else ""
        self.call_grammar = None  # raises the 400 of an unreadable schema before the model runs
        if self.tools:
            offered = [t for t in self.tools if t["function"]["name"] in self.names]
            self.call_grammar = tool_call_grammar(offered, self._call_text(self.call_prefill))
            if len(offered) < len(self.tools):
                tool_call_grammar(self.tools)  # every offered schema is checked
        self.all_names = frozenset(t["function"]["name"] for t in req.tools)
        # ``auto`` renders one more tool, for words (module docstring): every auto prompt alike.
        self.words_tool = words_tool(self.all_names) if req.tool_choice == "auto" else None
        self.rendered_tools = [*self.tools, self.words_tool] if self.words_tool else self.tools
        self.stop = list(params.stop)
        if self.tools and (req.tool_choice == "named" or not req.parallel_tool_calls):
            self.stop.append(TOOL_CALL_CLOSE)
        self.base = ""
        self._first_tokens = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.committed = ""

    @staticmethod
    def _call_text(prefill: str) -> str:
        """The part of a call prefill after ``<tool_call>\\n``: where the grammar starts."""
        return prefill.partition(TOOL_CALL_OPEN + "\n")[2]

    async def prepare(self) -> None:
        """Render and tokenize the prompt; 400 when it does not fit the context window."""
        from jinja2 import TemplateError

        try:
            self.base, tokens = await self.server.in_worker(
                self._render, self.messages, self.rendered_tools
            )
        except (ValueError, TypeError, TemplateError) as exc:  # the template refused them
            raise proto.invalid_request(f"The messages cannot be rendered: {exc}") from None
        self.prompt_tokens = len(tokens)
        self._first_tokens: list[int] | None = tokens
        n_ctx = self.server.backend.n_ctx
        if self.prompt_tokens + (self.params.max_tokens or 1) > n_ctx:
            raise proto.context_length_exceeded(self.prompt_tokens, n_ctx)

    def _render(self, messages: list[JSON], tools: list[JSON]) -> tuple[str, list[int]]:
        backend = self.server.backend
        base = backend.render(messages, tools)
        return base, backend.tokenize(base + self.prefill)

    async def _pass(
        self,
        text: str | None,
        *,
        temperature: float,
        stream: ToolCallStream | None,
        on_text: Callable[[str], Any],
        tools_prompt: tuple[list[JSON], list[JSON]] | None = None,
        grammar: str | None = None,
    ) -> GenResult:
        """One generation after prompt ``text`` (or the rendered ``tools_prompt`` + committed
        text); text pieces go through ``stream`` (when tools are parsed) to ``on_text``."""
        backend = self.server.backend

        def tokens_of() -> list[int]:
            prompt = text
            if tools_prompt is not None:
                prompt = backend.render(*tools_prompt) + self.committed
            return backend.tokenize(prompt or "")

        tokens = self._first_tokens
        self._first_tokens = None  # the first pass's prompt is the one tokenized in prepare()
        if tokens is None or text != self.base + self.prefill or tools_prompt is not None:
            tokens = await self.server.in_worker(tokens_of)
        room = backend.n_ctx - len(tokens)
        if room <= 0:
            return GenResult("length", 0)
        max_tokens = min(self.params.max_tokens or room, room)
        params = GenParams(
            **{**self.params.__dict__, "max_tokens": max_tokens, "temperature": temperature}
        )
        params.stop = list(self.stop)
        params.grammar = grammar or params.grammar

        async def sink(piece: str) -> None:
            out = stream.feed(piece) if stream is not None else piece
            if out:
                self.committed += out
                await on_text(out)

        result = await self.server.generate(tokens, params, self.cancel, sink)
        self.completion_tokens += result.completion_tokens
        return result

    async def _emit(self, tail: str, on_text: Callable[[str], Any]) -> None:
        if tail and not self.cancel.is_set():
            self.committed += tail
            await on_text(tail)

    def _result(self, finish: str, calls: list[ToolCall] | None = None) -> TurnResult:
        usage = Usage(self.prompt_tokens, self.completion_tokens)
        return TurnResult(
            self.committed, calls or [], finish, usage, cancelled=self.cancel.is_set()
        )

    async def _choose_call(self, tokens: list[int] | None = None) -> str | None:
        """``auto``'s choice of what comes after ``tokens`` (default: the prompt as prepared,
        which the answer's generation then reuses): the prefill of the call the model chose
        (module docstring), "" for words, None when cancelled."""
        backend = self.server.backend
        words = self.words_tool["function"]["name"]
        shares = await self.server.in_worker(
            backend.name_choice,
            self._first_tokens if tokens is None else tokens,
            REQUIRED_PREFILL,
            [*sorted(self.names), words],
            self.cancel,
            self.params.background,
        )
        if shares is None:
            return None
        names, share = shares[0]
        logger.info("local LLM: auto chose %s (%.2f of the choice)", "/".join(names), share)
        if words in names or share < CALL_CONFIDENCE:
            self.server.count("auto_words")
            return ""
        self.server.count("auto_calls")
        if len(names) > 1:  # names that begin alike: the grammar picks among the offered
            self.call_grammar = tool_call_grammar(self.tools, self._call_text(self.call_prefill))
            return self.call_prefill
        (name,) = names
        prefill = f"{TOOL_CALL_OPEN}\n{call_head(name)}"
        tool = next(t for t in self.tools if t["function"]["name"] == name)
        self.call_grammar = tool_call_grammar([tool], self._call_text(prefill))
        return prefill

    async def _more_calls(self, written: str, calls: list[ParsedCall]) -> list[ParsedCall]:
        """``auto`` after a call: one more is opened and chosen by name as the first one was,
        until words win the choice, a call repeats one of this answer, or
        :data:`MAX_PARALLEL_CALLS` (module docstring). ``written`` is the calls' text so far."""
        backend = self.server.backend
        while len(calls) < MAX_PARALLEL_CALLS:
            written += f"\n{TOOL_CALL_CLOSE}\n"
            tokens = await self.server.in_worker(backend.tokenize, self.base + written)
            chosen = await self._choose_call(tokens)
            if not chosen:
                break
            stream = ToolCallStream(self.names, prefill=written + chosen)
            gen = await self._pass(
                self.base + written + chosen,
                temperature=0.0,
                stream=stream,
                on_text=_no_text,
                grammar=self.call_grammar,
            )
            _, parsed = stream.finish()
            if gen.cancelled or parsed.error is not None or len(parsed.calls) <= len(calls):
                break
            written, calls = stream.text, parsed.calls
        return calls

    async def _words(self, on_text: Callable[[str], Any]) -> TurnResult:
        """``auto`` chose words: written as the arguments of a call to the words tool and sent
        as the text its ``message`` holds (module docstring). The first argument,
        :data:`OUTSIDE_ACTION`, is chosen as the tool was, between ``true`` and ``false``; with
        :data:`REFUSAL_CONFIDENCE` of that choice the message opens with
        :data:`REFUSAL_OPENING`. No grammar: the opened string keeps the model in it, and
        llama-cpp-python's grammar sampling cost 40% of the decode speed; whatever follows the
        string's end is dropped."""
        backend = self.server.backend
        name = self.words_tool["function"]["name"]
        head = f'{TOOL_CALL_OPEN}\n{call_head(name)}{{"{OUTSIDE_ACTION}":'
        shares = await self.server.in_worker(
            backend.name_choice,
            self._first_tokens,
            head,
            [" true", " false"],  # as JSON writes them after the colon
            self.cancel,
            self.params.background,
        )
        if shares is None:
            return self._result("stop")
        outside = {names[0]: share for names, share in shares}[" true"]
        refuses = outside >= REFUSAL_CONFIDENCE
        logger.info("local LLM: words, outside action %.2f (refusal: %s)", outside, refuses)
        opening = REFUSAL_OPENING if refuses else ""
        head += f' {"true" if refuses else "false"}, "message": "{opening}'
        if refuses:
            self.server.count("auto_refusals")
            await self._emit(opening, on_text)
        self.stop = [*self.params.stop, WORDS_END]
        gen = await self._pass(
            self.base + head,
            temperature=self.params.temperature,
            stream=JsonStringStream(),
            on_text=on_text,
        )
        return self._result(gen.finish_reason)

    def _words_before(self, parsed: ParsedOutput) -> str:
        """The text before a call attempt that is not sent yet."""
        before = parsed.before
        return before[len(self.committed) :] if before.startswith(self.committed) else ""

    async def run(self, on_text: Callable[[str], Any]) -> TurnResult:
        if not self.names:
            gen = await self._pass(
                self.base, temperature=self.params.temperature, stream=None, on_text=on_text
            )
            return self._result(gen.finish_reason)

        prefill = self.prefill
        if self.req.tool_choice == "auto":
            chosen = await self._choose_call()
            if chosen is None:
                return self._result("stop")
            if not chosen:
                return await self._words(on_text)
            prefill = chosen
        temperature = self.params.temperature
        first: ParsedOutput | None = None  # the first unparsable answer, if the retry fails too
        while True:
            stream = ToolCallStream(self.names, emitted=self.committed, prefill=prefill)
            gen = await self._pass(
                self.base + self.committed + prefill,
                temperature=temperature,
                stream=stream,
                on_text=on_text,
                grammar=self.call_grammar if prefill else None,
            )
            tail, parsed = stream.finish()
            if gen.cancelled:
                return self._result(gen.finish_reason)
            if parsed.calls or parsed.error is None:
                break
            # Retry once at temperature 0 with the call opened for the model (the same text
            # again would be pointless: not when nothing changes, nor after a cut by max_tokens).
            retry_prefill = prefill or ("\n" if self.committed else "") + self.call_prefill
            retry = temperature > 0 or retry_prefill != prefill
            if first is None and gen.finish_reason != "length" and retry:
                logger.info("local LLM: unparsable tool call (%s); retrying", parsed.error)
                self.server.count("retries")
                temperature, prefill, first = 0.0, retry_prefill, parsed
                continue
            logger.info("local LLM: unparsable tool call (%s); dropped", parsed.error)
            await self._emit(self._words_before(first or parsed), on_text)
            if not self.committed.strip():
                await self._emit(UNREADABLE_CALL, on_text)
            return self._result(gen.finish_reason)

        await self._emit(tail, on_text)
        if not parsed.calls:
            return self._result(gen.finish_reason)
        calls = parsed.calls
        known = tool_results(self.req.messages)
        new_call = any(c.key not in known for c in calls)  # a model repeating itself: no more
        if self.req.tool_choice == "named" or not self.req.parallel_tool_calls:
            calls = calls[:1]
        elif self.req.tool_choice == "auto" and not self.committed and new_call:
            calls = await self._more_calls(stream.text, calls)
        fresh = [c for c in calls if c.key not in known]
        if fresh:
            return self._result("tool_calls", [c.to_tool_call() for c in fresh])
        return await self._answer_now(calls, known, on_text)

    async def _answer_now(
        self,
        repeated: list[ParsedCall],
        known: dict[tuple[str, str], ToolResult],
        on_text: Callable[[str], Any],
    ) -> TurnResult:
        """Every call was a repeat: generate again without tools (module docstring)."""
        logger.info(
            "local LLM: refused repeated tool call(s) %s; answering without tools",
            [c.key for c in repeated],
        )
        self.server.count("repeated_calls_refused")
        messages = answer_now_messages(self.req.messages, known, repeated)
        stream = ToolCallStream(self.all_names, emitted=self.committed)
        self.stop = list(self.params.stop)
        gen = await self._pass(
            None,
            temperature=self.params.temperature,
            stream=stream,
            on_text=on_text,
            tools_prompt=(messages, []),
        )
        tail, parsed = stream.finish()
        if parsed.calls or parsed.error is not None:  # never a call here: keep the text before
            tail = self._words_before(parsed)
        await self._emit(tail, on_text)
        if not self.committed.strip() and not gen.cancelled:
            await self._emit(results_summary(known[c.key] for c in repeated), on_text)
        return self._result(gen.finish_reason)
