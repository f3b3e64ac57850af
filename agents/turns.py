"""One chat turn's lifecycle: opened with the person's message saved, the agent run streamed
under the session's lock, and the answer closed whatever happens (complete, interrupted or
failed), with usage counted against the quota and the follow-up work queued.

`open_turn` (in a worker thread) does everything that may refuse the turn before any LLM
call; `ChatTurn.events` yields what the client sees, ending with exactly one `done` or `error`.
The SSE consumer and the non-streamed API share both (agents/admission.py admits the request).
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from django.conf import settings
from langgraph.errors import GraphRecursionError

from agents import metrics, services
from agents.events import Done, Failed, Started, Token, ToolResult, TurnEvent
from agents.flushing import PartialAnswerFlusher
from agents.graph.context import Context
from agents.llm import LLMRequestError, LLMUnavailableError
from agents.models import Message
from agents.run import AgentRun, RunProgress
from agents.turn_trace import TurnTrace
from agentsite import context
from agentsite.asyncdb import db_call
from agentsite.errors import is_store_outage
from memory.selectors import facts_for_turn, may_have_memories

logger = logging.getLogger(__name__)


def open_turn(user, session_id, content: str) -> "ChatTurn":
    """Refuse (404 not theirs, 429 over quota) or save the question and the answer's row.
    Blocking: call it from a worker thread."""
    asked, answer = services.open_turn(user, session_id, content, context.get("request_id") or "")
    context.bind(session_id=answer.session_id)
    # Asked here, in the admission's worker thread, so a person without memories costs no
    # search (no thread hop, no embedding); a memory learned meanwhile counts next turn.
    return ChatTurn(user, asked, answer, search_memories=may_have_memories(user.pk))


class ChatTurn:
    def __init__(self, user, user_message: Message, answer: Message, *, search_memories=True):
        self.user = user
        self.search_memories = search_memories
        self.session = answer.session
        self.user_message = user_message
        self.answer = answer
        self.started = time.monotonic()
        self.trace: TurnTrace | None = None  # when Langfuse is on
        self.status = Message.Status.INTERRUPTED  # the answer's, until it is closed
        self.first_token_seen = False  # the time to it is measured once per turn
        self.memory_search: asyncio.Task | None = None  # the person's memories for this turn
        self.progress = RunProgress()  # what the agent produced, whatever way the turn ends
        self.run: AgentRun | None = None
        self.flusher = PartialAnswerFlusher(answer.pk, self.progress)  # saves the text so far

    async def events(
        self, text_sink: Callable[[str], None] | None = None
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events. With a `text_sink`, the answer's text may go to it instead of
        as Token events, whenever no other event is ahead of it (the SSE stream)."""
        yield Started(str(self.session.pk), str(self.user_message.pk), str(self.answer.pk))
        metrics.turns_active.inc()
        try:
            async with services.session_turn_lock(self.session.pk):
                self.flusher.start()
                run = self._agent_run()
                if text_sink is not None:
                    run.text_sink = self._seen_text(text_sink)
                async for event in run.events():
                    if isinstance(event, Token):
                        self._first_token()
                    if isinstance(event, ToolResult):
                        await db_call(services.save_tool_result)(
                            self.answer,
                            tool_call_id=event.id,
                            name=event.name,
                            content=event.content,
                        )
                    yield event
            await self._close(Message.Status.COMPLETE)
            yield self._done()
        except (asyncio.CancelledError, GeneratorExit):  # the reader left, or closed us
            await self._close_despite_errors(Message.Status.INTERRUPTED)
            raise
        except Exception as exc:  # every failure ends the stream with one error event
            code, detail = _describe_failure(exc)
            metrics.turn_errors.labels(code).inc()
            await self._close_despite_errors(Message.Status.FAILED)
            yield Failed(code, detail, context.get("request_id"))
        finally:
            metrics.turns_active.dec()
            if self.trace is not None:
                self.trace.close(self.status, self.progress.text)

    def _first_token(self) -> None:
        if not self.first_token_seen:
            self.first_token_seen = True
            metrics.time_to_first_token.observe(time.monotonic() - self.started)

    def _seen_text(self, text_sink: Callable[[str], None]) -> Callable[[str], None]:
        def take(text: str) -> None:
            self._first_token()
            text_sink(text)

        return take

    def _agent_run(self) -> AgentRun:
        """The run, its person's memories (if any) searched while the graph and checkpoint
        load (the first model call awaits them; the search never raises), traced when
        Langfuse is on."""
        question = self.user_message.content
        self.trace = TurnTrace.open(
            answer_id=self.answer.pk,
            question=question,
            user_id=self.user.pk,
            session_id=self.session.pk,
        )
        # A traced turn keeps its memory-search span, with or without memories.
        if self.search_memories or self.trace is not None:
            search = facts_for_turn(self.user.pk, question, limit=settings.MEMORY_PROMPT_LIMIT)
            if self.trace is not None:
                search = self.trace.memory_search(search, query=question)
            self.memory_search = asyncio.create_task(search)
        self.run = AgentRun(
            session_id=self.session.pk,
            question=question,
            context=Context(
                user_id=str(self.user.pk),
                memory_search=self.memory_search,
                max_tokens=settings.LLM_MAX_TOKENS,
                agent=self.session.agent,
            ),
            trace=self.trace.root if self.trace is not None else None,
            progress=self.progress,
        )
        return self.run

    async def _close(self, status: str) -> None:
        """Save the answer with its final status, count usage, queue the follow-up work."""
        await self.flusher.stop()
        self.status = status
        progress = self.progress
        fields = {
            "status": status,
            "content": progress.text,
            "model": progress.model,
            "tool_calls": progress.tool_calls,
            "agent": progress.agent,
            "handoffs": progress.handoffs,
            "citations": progress.citations,
            "prompt_tokens": progress.prompt_tokens,
            "completion_tokens": progress.completion_tokens,
            "latency_ms": round((time.monotonic() - self.started) * 1000),
            "trace_id": self.trace.trace_id if self.trace is not None else "",
            "memories": self._memories_given(),
        }
        complete = status == Message.Status.COMPLETE
        await db_call(self._save_closed)(fields, follow_up=complete)
        metrics.turns.labels(status).inc()
        if not complete and progress.text and self.run is not None:
            await self._keep_partial_answer()

    def _save_closed(self, fields: dict, *, follow_up: bool) -> None:
        """The close's writes and, after a complete turn, the follow-up work queued, in one
        worker-thread hop. Blocking."""
        services.close_turn(self.user, self.answer, fields=fields)
        if follow_up:
            self._queue_follow_up()

    def _queue_follow_up(self) -> None:
        """Title and memory on a worker. Not queued (the broker is down) is logged: the answer
        was given and saved, and must not become a failed turn for it."""
        untitled = None if self.session.title else self.session.pk
        try:
            services.queue_follow_up(self.user_message.pk, untitled_session_id=untitled)
        except Exception:
            logger.exception("the follow-up work of a turn was not queued")

    def _memories_given(self) -> list[str]:
        """The memories the agent was shown, if the search finished (it never raises)."""
        search = self.memory_search
        if search is None or not search.done() or search.cancelled():
            return []
        return search.result()

    async def _close_despite_errors(self, status: str) -> None:
        """Store a final status even while being cancelled; if the store itself is down, log
        it: the answer row already says `interrupted`, and the stream still ends properly."""
        try:
            await asyncio.shield(self._close(status))
        except Exception:
            logger.exception("could not store the final status %s of a turn", status)

    async def _keep_partial_answer(self) -> None:
        try:
            await self.run.keep_partial_answer()
        except Exception:  # best effort: the Message row is what the person sees
            logger.warning("could not store the partial answer in the checkpoint", exc_info=True)

    def _done(self) -> Done:
        progress = self.progress
        return Done(
            assistant_message_id=str(self.answer.pk),
            model=progress.model,
            finish_reason=progress.finish_reason or "stop",
            usage={
                "prompt_tokens": progress.prompt_tokens,
                "completion_tokens": progress.completion_tokens,
            },
        )


def _describe_failure(exc: Exception) -> tuple[str, str]:
    """A code and a sentence a person can read; the exception itself goes to the log only."""
    if isinstance(exc, LLMUnavailableError):
        return "llm_unavailable", str(exc)
    if isinstance(exc, LLMRequestError):
        return "llm_request_rejected", str(exc)
    if is_store_outage(exc):
        logger.warning("chat turn failed: a store is down", exc_info=exc)
        return "service_unavailable", "A service the assistant needs is down; please try again."
    if isinstance(exc, GraphRecursionError):
        return "too_many_steps", "The assistant needed too many steps; try a simpler request."
    logger.exception("chat turn failed", exc_info=exc)
    return "internal_error", "Something went wrong on our side; please try again."
