"""The LLM simulator: an OpenAI-compatible HTTP server of ours for tests and load tests.

A plain ASGI application (no framework) served by uvicorn. It needs no Django:
``python -m devtools.llmservers.simulator --port 8800`` runs it; ``manage.py llm_simulator`` is a
thin wrapper with the same arguments (:func:`~devtools.llmservers.simulator.cli.add_arguments`).
In tests::

    with running_simulator(SimulatorConfig(reply_tokens=5)) as sim:
        sim.base_url            # "http://127.0.0.1:PORT/v1"
        sim.set_faults("gpt-4o", {"kind": "status_429", "retry_after": 2, "fail_times": 1})

Endpoints
---------
``POST /v1/chat/completions`` (streaming or not), ``POST /v1/embeddings``, ``GET /v1/models``
(the paths also answer without the ``/v1`` prefix), and the admin endpoints
``GET/PUT/DELETE /_sim/faults``, ``GET/PUT /_sim/rules``, ``GET /_sim/stats`` (counts, and each
model's last request body), ``POST /_sim/reset``.
When ``api_key`` is set every endpoint needs ``Authorization: Bearer <api_key>`` (``"*"`` accepts
any bearer token); otherwise 401 ``invalid_api_key``. When ``models`` is set, other model names get
404 ``model_not_found``; otherwise any model name is accepted.

Rules
-----
The simulator knows no product: what it answers beyond an echo comes from rules, each a JSON
object of one of three kinds (:mod:`~devtools.llmservers.simulator.rules`; :func:`load_rules`
raises ValueError on an unknown key or kind, a bad regex, a wrong type):

- reply: ``{"match": REGEX, "system": REGEX, "model": NAME, "reply": TEXT}``;
- tool calls: ``{"match": ..., "system": ..., "model": ..., "tool_calls": [{"name": TOOL,
  "arguments": {...}}, ...]}``;
- intent: ``{"intent": "arithmetic" | "time" | "search", "tool": TOOL, "argument": NAME,
  "default": VALUE, "model": NAME}`` -- each ask of that kind in the last user message calls
  ``TOOL`` with the asked value as its argument ``NAME``. ``"arithmetic"`` asks are expressions
  after an asking word ("what is 2+3*4", "calculate 7 times 6" -> ``"2+3*4"``, ``"7 * 6"``) or a
  message that is just one; ``"time"`` asks name "time"/"date"/"today"/"clock"/"what day", and
  their value is each IANA zone, abbreviation or city named ("in Tokyo" -> ``"Asia/Tokyo"``),
  else ``default`` (no default: the call has no arguments); a ``"search"`` ask is the whole
  message (its words, whitespace collapsed).

``match`` is searched in the last user message and ``system`` in the system/developer prompt
(case-insensitive, ``.`` matches newlines); a reply or tool-call rule needs one of them, and both
must be found when both are given. ``model`` (optional) limits a rule to one model name.

Rules come from ``config.rules`` (CLI ``--rules FILE``), the scripted ones a test changes:
``set_rules`` / ``PUT /_sim/rules`` replace them, ``reset`` restores the configured ones; and
``config.base_rules`` (``--base-rules FILE``), fixed for the simulator's life and tried after
them (a product's tools and prompts, e.g. ``agents/tests/simulator_rules.json``). Either is a
list, ``{"rules": [...]}`` or the path of a JSON file of either. ``GET /_sim/rules`` shows both.

Replies (deterministic; the first that applies wins)
----------------------------------------------------
1. Reply and tool-call rules, in order (the scripted rules, then the base rules). A reply rule
   answers its text. A tool-call rule applies only to offered tools allowed by ``tool_choice``,
   and drops calls whose result (same name and arguments) is already in the conversation; if
   nothing is left the next rule is tried.
2. Intent rules whose tool is offered (and allowed by ``tool_choice``): every ask in the last
   user message, of every intent rule, is a tool call, in text order (only the first when
   ``parallel_tool_calls`` is false); when the tool has one parameter of another name, the
   argument is renamed to it. A call whose result is already in the conversation is never made
   again. ``tool_choice`` "required"/named without such a call calls the (first) tool: with the
   first value its intent rule finds in the message (else its default, else the message), or,
   for a tool without an intent rule, with arguments made from its JSON schema.
3. Tool results after the last user message (or known results of the asked calls) -> a final
   answer quoting them: ``"The result is <content>."`` or
   ``"The results are <c1>, <c2> and <c3>."``
4. Echo: :func:`echo_reply` -- ``"You said: <text>."`` (whitespace collapsed; the final "." is
   added only when the text does not end in . ! or ?) padded with filler words (lorem ipsum ...)
   or cut so that it has exactly ``reply_tokens`` token pieces.

``stop`` sequences cut the text; ``max_tokens``/``max_completion_tokens`` keep the first N pieces
(finish_reason ``"length"``).

Tokens
------
A reply is split into word-ish pieces, each a token, spaces attached (``tokens.split_pieces``):
``"Hi there."`` -> ``["Hi", " there."]``; joining the pieces gives the exact reply. A tool call
counts 1 piece for its name plus the pieces of its JSON arguments. ``completion_tokens`` is the
number of pieces, which is also the number of streamed content / tool-call chunks.
``prompt_tokens`` (``tokens.count_prompt_tokens``) is the number of whitespace-separated words in
the text of every message, the names and arguments of assistant tool calls, and the name and
description of every offered tool -- no per-message overhead.

Latency (per model: ``config.profiles[model]``, else ``profiles["*"]``, else the top-level fields)
--------------------------------------------------------------------------------------------------
A stream sends its headers at once, the first token after ``ttft_ms``, then one piece every
``1/tokens_per_s`` s (0 = no delay), on an absolute schedule (pieces that are due together go out in
one write). A non-streaming answer waits ``ttft_ms + pieces / tokens_per_s``. All waits are
``asyncio`` timers that end early when the client goes away; optional ``context_window`` gives 400
``context_length_exceeded`` when prompt tokens + ``max_tokens`` exceed it.

Faults (per model name, ``"*"`` for every model without its own entry; :class:`FaultSpec`)
-----------------------------------------------------------------------------------------
``{"kind": "status_429", "retry_after": 2}`` 429 + ``Retry-After`` + code ``rate_limit_exceeded``;
``{"kind": "status_500"}``; ``{"kind": "status_400", "code": "context_length_exceeded"}``;
``{"kind": "hang"}`` no answer until the client disconnects (or the server stops);
``{"kind": "break_after_tokens", "break_after_tokens": N}`` (or just ``{"break_after_tokens": N}``)
N token chunks, then the connection is dropped without ``[DONE]`` (non-streaming: half a body);
``"rate_limit_window": {"requests": N, "seconds": T}`` 429 once N requests were accepted within
the last T seconds (it can be combined with a kind). Modifiers: ``"fail_times": K`` only the next K
requests get the fault, then they succeed; ``"probability": p``. Counters are kept per model name
and restart when the model's faults are set again. Faults apply to chat and embeddings requests.
They are set in the config (CLI ``--fault MODEL:KIND[:ARG]``) and at runtime through
``/_sim/faults``: ``PUT`` body ``{model: spec | null}`` (or ``{"model": m, "fault": spec}``)
merges, ``?replace=1`` replaces; ``DELETE`` clears all or ``?model=``; ``GET`` shows them with
``remaining`` fail_times. ``POST /_sim/reset`` restores the configured faults and rules and zeroes
the stats.

Embeddings
----------
:func:`embed_text`: lower-cased words (plural "s" dropped, a few stop words ignored) hashed into
``dim`` signed buckets, L2-normalised; texts sharing words are close, unrelated texts near
orthogonal; a text without words gets a unit vector chosen by the hash of the text. Default dim
384; ``dimensions`` is honoured; ``encoding_format`` float or base64.
"""

from devtools.llmservers.simulator.app import Simulator, create_app
from devtools.llmservers.simulator.cli import (
    add_arguments,
    build_parser,
    config_from_options,
    parse_fault,
    parse_profile,
)
from devtools.llmservers.simulator.config import ModelProfile, SimulatorConfig
from devtools.llmservers.simulator.embeddings import embed_text
from devtools.llmservers.simulator.faults import FAULT_KINDS, FaultSpec
from devtools.llmservers.simulator.planning import plan_reply
from devtools.llmservers.simulator.rules import IntentRule, Rule, load_rules
from devtools.llmservers.simulator.serving import (
    SimulatorHandle,
    SimulatorProcess,
    running_simulator,
    serve,
    spawned_simulator,
)
from devtools.llmservers.simulator.tokens import count_prompt_tokens, echo_reply, split_pieces

__all__ = [
    "FAULT_KINDS",
    "FaultSpec",
    "IntentRule",
    "ModelProfile",
    "Rule",
    "Simulator",
    "SimulatorConfig",
    "SimulatorHandle",
    "SimulatorProcess",
    "add_arguments",
    "build_parser",
    "config_from_options",
    "count_prompt_tokens",
    "create_app",
    "echo_reply",
    "embed_text",
    "load_rules",
    "parse_fault",
    "parse_profile",
    "plan_reply",
    "running_simulator",
    "serve",
    "spawned_simulator",
    "split_pieces",
]
