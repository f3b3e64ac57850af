"""The llama.cpp side of the server: prompt rendering, tokenizing, sampling parameters, generation.

The prompt is rendered with the GGUF's own chat template (``tokenizer.chat_template``) through
``llama_cpp.llama_chat_format.Jinja2ChatFormatter`` -- messages (``tool`` results and assistant
``tool_calls`` included) plus ``tools`` -- and tokenized once; ``llama.create_completion(tokens,
stream=True)`` then produces the text, so we decide what it means. Honoured: ``max_tokens`` /
``max_completion_tokens``, ``temperature`` (default 0.2), ``top_p``, ``stop``, ``seed``,
``presence_penalty``, ``frequency_penalty``, ``logit_bias``, ``response_format`` (``json_object`` /
``json_schema``, through a llama.cpp grammar, :mod:`.grammar`) and vLLM's ``ignore_eos``
extension. ``n`` > 1 and
``logprobs`` are refused (400). Prompt tokens + ``max_tokens`` beyond the context window is a 400
``context_length_exceeded``.

Prompt cache: a prompt starts from the saved KV state with the longest common token prefix
(:mod:`.prompt_cache`: slots, kept per chat and per background kind, and a pinned slot for the
chat's system prompt and tools), or from the live KV cache when it shares more; only the rest
is evaluated. A state is one sequence's KV cells (``llama_state_seq_get_data``): ~28 KB per
token for the 1.5B model, saved or restored in ~6 ms for 550 tokens. ``Llama.save_state()`` is
not used: it also copies the logits buffer (``n_batch`` x vocabulary floats, 311 MB), which
takes 150-200 ms each way and which nothing here needs.

Before each generation every prompt token but the last is put in the KV cache, so that the last
one is always evaluated alone: llama.cpp's batched and single-token kernels differ in the last
bits, and without this the same request at temperature 0 could answer differently cold and warm
("colours" / "colors").

:meth:`LlamaBackend.name_choice` is the turn's first step with ``tool_choice="auto"``: with a
call opened for the model, how its next token splits between the names it may write (the
offered tools and a tool that stands for answering in words, :mod:`.turn`); the generation that
follows reuses that evaluation.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.local.grammar import response_format_grammar
from devtools.llmservers.local.prompt_cache import (
    DEFAULT_CACHE_SLOTS,
    PromptCache,
    Slot,
    common_prefix,
)
from devtools.llmservers.local.weights import load_llama
from devtools.llmservers.protocol import JSON, ChatRequest

if TYPE_CHECKING:  # pragma: no cover
    import llama_cpp

__all__ = [
    "DEFAULT_N_CTX",
    "DEFAULT_TEMPERATURE",
    "GenParams",
    "GenResult",
    "LlamaBackend",
    "default_n_threads",
    "gen_params",
    "load_backend",
]

DEFAULT_TEMPERATURE = 0.2
Emit = Callable[[str], None]  # receives each text piece of a generation
DEFAULT_TOP_P = 0.95
DEFAULT_N_CTX = 8192


def default_n_threads() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def load_backend(
    model_path: str | os.PathLike[str],
    *,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    cache_slots: int = DEFAULT_CACHE_SLOTS,
) -> LlamaBackend:
    """Load the GGUF file into llama.cpp (``n_threads`` default: every core); ``cache_slots``
    saved prompt states at most (0: only the live KV cache is reused)."""
    llama = load_llama(model_path, n_ctx=n_ctx, n_threads=n_threads or default_n_threads())
    return LlamaBackend(llama, cache_slots=cache_slots)


@dataclass
class GenParams:
    """Sampling parameters of one generation."""

    max_tokens: int | None = None
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] | None = None
    ignore_eos: bool = False
    grammar: str | None = None  # GBNF the output must follow
    # A plain (not streamed) request is background work: its state never evicts a chat's.
    background: bool = False


@dataclass
class GenResult:
    finish_reason: str  # "stop" | "length"
    completion_tokens: int
    cancelled: bool = False
    prompt_evaluated: int = 0  # prompt tokens run through the model
    prompt_cached: int = 0  # prompt tokens taken from the KV cache or a saved state


class LlamaBackend:
    """The llama.cpp side: prompt rendering, tokenizing and generation. Not thread-safe: the
    server calls it from its one worker thread only."""

    def __init__(self, llama: llama_cpp.Llama, *, cache_slots: int = DEFAULT_CACHE_SLOTS) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = llama
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the GGUF file has no tokenizer.chat_template")
        eos = llama.detokenize([llama.token_eos()], special=True).decode("utf-8", "replace")
        bos_id = llama.token_bos()
        bos = llama.detokenize([bos_id], special=True).decode("utf-8", "replace")
        self.formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
        self._eog: list[int] | None = None
        self._probed: tuple[list[int], int] | None = None  # name_choice's prompt, cached
        self.cache = PromptCache(cache_slots)
        self._next_message = self._next_message_opening()

    @property
    def n_ctx(self) -> int:
        return self.llama.n_ctx()

    def render(self, messages: list[JSON], tools: list[JSON] | None) -> str:
        """The prompt text, ending with the opened assistant turn."""
        return self.formatter(messages=messages, tools=tools or None).prompt

    def tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _next_message_opening(self) -> list[int]:
        """The tokens between a system message's text and the role of the message after it,
        whatever that role: ``<|im_end|>\n<|im_start|>`` in ChatML."""
        system, other = "SYSTEM-MARK-7e1f", "NEXT-MARK-7e1f"
        between = []
        for role in ("user", "system"):
            messages = [{"role": "system", "content": system}, {"role": role, "content": other}]
            text = self.render(messages, None)
            between.append(text[text.index(system) + len(system) : text.index(other)])
        to_user, to_system = between
        same = [a == b for a, b in zip(to_user, to_system, strict=False)] + [False]
        return self.tokenize(to_user[: same.index(False)])

    def fixed_prefix(self, tokens: list[int]) -> int | None:
        """How many leading tokens come before the second message's role: the system prompt
        and tools, the same for every call of a conversation (the agent's context of a
        question comes after, in a message of its own). None when there is one message."""
        opening, n = self._next_message, len(self._next_message)
        for i in range(len(tokens) - n + 1):
            if tokens[i : i + n] == opening:
                return i + n
        return None

    def eog_tokens(self) -> list[int]:
        """Every end-of-generation token of the vocabulary (for ``ignore_eos``)."""
        if self._eog is None:
            import llama_cpp

            try:
                vocab = self.llama._model.vocab
                n_vocab = self.llama.n_vocab()
                self._eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]
            except AttributeError:  # pragma: no cover - other llama-cpp-python versions
                self._eog = [self.llama.token_eos()]
        return self._eog

    def _next_token_probabilities(self, tokens: list[int]) -> Any:
        import numpy as np

        llama = self.llama
        llama.eval(tokens)
        logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))
        weights = np.exp(logits.astype(np.float64) - logits.max())  # a copy of the logits
        return weights / weights.sum()

    def name_choice(
        self,
        tokens: list[int],
        prefill: str,
        names: list[str],
        cancel: threading.Event,
        background: bool = False,
    ) -> list[tuple[tuple[str, ...], float]] | None:
        """After the prompt ``tokens`` and ``prefill`` (a call opened up to its name), how the
        next token splits between ``names``: each group of names that begin with the same
        token, with its share of their probability, most likely first (None: cancelled)."""
        opened = tokens + self.tokenize(prefill)
        cached, primed = self._prime(opened, background, cancel)
        if not primed:
            return None
        if self._probed is None or tokens[: len(self._probed[0])] != self._probed[0]:
            self._probed = (tokens, min(cached, len(tokens)))  # the prefill is the answer's
        self.llama.n_tokens = len(opened) - 1
        probabilities = self._next_token_probabilities(opened[-1:])
        groups: dict[int, list[str]] = {}
        for name in names:
            groups.setdefault(self._first_token_of(prefill, name), []).append(name)
        total = float(sum(probabilities[token] for token in groups)) or 1.0
        shares = [(tuple(group), float(probabilities[t]) / total) for t, group in groups.items()]
        return sorted(shares, key=lambda share: -share[1])

    def _first_token_of(self, prefill: str, name: str) -> int:
        """The first token of ``name`` written after ``prefill`` (as it tokenizes there, unless
        it merges with the prefill's last token)."""
        head = self.tokenize(prefill)
        written = self.tokenize(prefill + name)
        if written[: len(head)] == head and len(written) > len(head):
            return written[len(head)]
        return self.tokenize(name)[0]

    def _save(self) -> tuple[list[int], Any]:
        """The tokens in the KV cache and their cells (sequence 0, the only one)."""
        import llama_cpp

        llama = self.llama
        llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)  # no cell past what input_ids says
        size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, 0)
        state = (ctypes.c_uint8 * size)()
        llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, state, size, 0)
        return llama.input_ids[: llama.n_tokens].tolist(), state

    def _restore(self, slot: Slot) -> None:
        import llama_cpp

        llama = self.llama
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        if not llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, slot.state, len(slot.state), 0):
            raise RuntimeError("llama.cpp refused a saved prompt state")
        llama.input_ids[: len(slot.tokens)] = slot.tokens
        llama.n_tokens = len(slot.tokens)
        llama._requires_eval = True  # the logits are not this state's

    def _prime(
        self, tokens: list[int], background: bool, cancel: threading.Event
    ) -> tuple[int, bool]:
        """Have every prompt token but the last in the KV cache, so that llama then evaluates
        the last one alone. The first sampled token then comes from the same computation
        whether the prompt was cached or not: llama.cpp's batched and single-token kernels
        differ in the last bits, which flips near-ties at temperature 0 (the same request would
        otherwise answer "colours" cold and "colors" warm).

        Starts from the saved state or the live KV cache that shares the most (module
        docstring); a chat whose fixed prefix is evaluated here pins it on the way. Evaluated
        one batch at a time (the batches llama's own eval would make), so that a long prompt
        can be stopped between batches. Returns the tokens taken from the cache, and False when
        ``cancel`` was set."""
        llama = self.llama
        head = tokens[:-1]
        slot, shared = self.cache.longest(head)
        cached = common_prefix(llama.input_ids[: llama.n_tokens], head)
        if slot is not None and shared > cached:
            self._restore(slot)
            cached = shared
        llama.n_tokens = cached  # eval() drops the cells after n_tokens first
        fixed = None if background else self.fixed_prefix(head)
        if fixed is not None and cached < fixed:
            if not self._evaluate(head, fixed, cancel):
                return cached, False
            self.cache.pin(*self._save())
        return cached, self._evaluate(head, len(head), cancel)

    def _evaluate(self, tokens: list[int], end: int, cancel: threading.Event) -> bool:
        """Evaluate ``tokens`` from the KV cache's end to ``end``; False when cancelled."""
        llama = self.llama
        for start in range(llama.n_tokens, end, llama.n_batch):
            if cancel.is_set():
                return False
            llama.eval(tokens[start : min(start + llama.n_batch, end)])
        return True

    def generate(
        self,
        tokens: list[int],
        params: GenParams,
        cancel: threading.Event,
        emit: Emit,
    ) -> GenResult:
        """Generate after ``tokens``, calling ``emit(piece)`` per text piece; stops early when
        ``cancel`` is set (checked at every token). The state is kept for later prompts."""
        cached, primed = self._prime(tokens, params.background, cancel)
        probed, self._probed = self._probed, None
        prompt = len(tokens)
        if probed is not None and tokens[: len(probed[0])] == probed[0]:
            # The auto step just evaluated this prompt (a prefilled call extends it, and the
            # prefill is the answer's, not the prompt's): count what the request reused, not
            # what that step left in the KV cache.
            prompt, cached = len(probed[0]), probed[1]
        try:
            if not primed:
                evaluated = self.llama.n_tokens - cached
                return GenResult("stop", 0, True, prompt_evaluated=evaluated, prompt_cached=cached)
            result = self._complete(tokens, params, cancel, emit)
        finally:
            self.cache.store(tokens, *self._save(), background=params.background)
        result.prompt_evaluated, result.prompt_cached = prompt - cached, cached
        return result

    def _complete(
        self, tokens: list[int], params: GenParams, cancel: threading.Event, emit: Emit
    ) -> GenResult:
        """The generation itself, once every prompt token but the last is in the KV cache."""
        from llama_cpp import StoppingCriteriaList

        prompt_len = len(tokens)
        sampled = 0

        def stop_when_cancelled(input_ids: Any, logits: Any) -> bool:
            nonlocal sampled  # input_ids holds the prompt and the tokens before this one
            sampled = max(sampled, len(input_ids) - prompt_len + 1)
            return cancel.is_set()

        bias = dict(params.logit_bias or {})
        if params.ignore_eos:
            bias.update(dict.fromkeys(self.eog_tokens(), float("-inf")))
        chunks = self.llama.create_completion(
            tokens,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=params.stop or None,
            seed=params.seed,
            presence_penalty=params.presence_penalty,
            frequency_penalty=params.frequency_penalty,
            logit_bias=bias or None,
            grammar=_grammar(params.grammar),
            stopping_criteria=StoppingCriteriaList([stop_when_cancelled]),
            stream=True,
        )
        finish = "length"
        try:
            for chunk in chunks:  # type: ignore[union-attr]
                if cancel.is_set():
                    break
                choice = chunk["choices"][0]
                if choice["text"]:
                    emit(choice["text"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            chunks.close()  # type: ignore[union-attr]
        return GenResult(finish, sampled, cancel.is_set())


def _grammar(text: str | None) -> Any:
    if text is None:
        return None
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def _number(data: JSON, name: str, default: float, low: float, high: float) -> float:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise proto.invalid_request(f"'{name}' must be a number from {low} to {high}.", name)
    return float(value)


def gen_params(req: ChatRequest, default_temperature: float = DEFAULT_TEMPERATURE) -> GenParams:
    """Sampling parameters of a chat request; raises :class:`OpenAIError` (400)."""
    data = req.raw
    if req.n != 1:
        raise proto.invalid_request("Only n=1 is supported.", "n")
    if data.get("logprobs") or data.get("top_logprobs"):
        raise proto.invalid_request("'logprobs' is not supported.", "logprobs")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise proto.invalid_request("'seed' must be an integer.", "seed")
    bias = data.get("logit_bias")
    logit_bias = None
    if bias is not None:
        try:
            logit_bias = {int(k): float(v) for k, v in bias.items()}
        except (AttributeError, TypeError, ValueError):
            raise proto.invalid_request(
                "'logit_bias' maps token ids to numbers.", "logit_bias"
            ) from None
    ignore_eos = data.get("ignore_eos", False)
    if not isinstance(ignore_eos, bool):
        raise proto.invalid_request("'ignore_eos' must be a boolean.", "ignore_eos")
    response_format = req.response_format
    if response_format is not None and response_format.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise proto.invalid_request(
            "'response_format.type' must be text, json_object or json_schema.", "response_format"
        )
    return GenParams(
        max_tokens=req.max_tokens,
        temperature=_number(data, "temperature", default_temperature, 0.0, 2.0),
        top_p=_number(data, "top_p", DEFAULT_TOP_P, 0.0, 1.0),
        stop=list(req.stop),
        seed=seed,
        presence_penalty=_number(data, "presence_penalty", 0.0, -2.0, 2.0),
        frequency_penalty=_number(data, "frequency_penalty", 0.0, -2.0, 2.0),
        logit_bias=logit_bias,
        ignore_eos=ignore_eos,
        grammar=response_format_grammar(response_format),
        background=not req.stream,
    )
