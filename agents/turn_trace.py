"""A chat turn in Langfuse, built only when Langfuse is on (agentsite/tracing.py).

One trace per turn, its id derived from the answer's message id (stored in `Message.trace_id`,
so the answer's scores find it). Under its root: the memory search (the query's length, the
number of hits), every LLM attempt (agents/llm/traces.py) and every tool call
(agents/graph/general/tools.py), in the order they happened.

Content: the root holds the person's question and the answer, as the root of the LangChain
callback's traces did before; memory texts, prompts, tool arguments and results are not sent.
"""

from collections.abc import Awaitable

from agentsite import tracing

TRACE_NAME = "chat-turn"
LEVEL_OF_STATUS = {"failed": "ERROR", "interrupted": "WARNING"}


class TurnTrace:
    def __init__(self, root, trace_id: str):
        self.root = root
        self.trace_id = trace_id

    @classmethod
    def open(cls, *, answer_id, question: str, user_id, session_id) -> "TurnTrace | None":
        """The turn's trace, or None when Langfuse is off (nothing imported, nothing built)."""
        if not tracing.enabled():
            return None
        root = tracing.start_trace(
            TRACE_NAME,
            seed=answer_id,
            user_id=user_id,
            session_id=session_id,
            input=question,
            metadata={"answer_id": str(answer_id)},
        )
        return cls(root, root.trace_id)

    async def memory_search(self, search: Awaitable[list[str]], *, query: str) -> list[str]:
        """The turn's memory search as a retriever span: how long it took, what it found."""
        span = self.root.start_observation(
            name="memory-search", as_type="retriever", metadata={"query_chars": len(query)}
        )
        try:
            facts = await search
        except BaseException as exc:  # cancelled with the turn (the search itself never raises)
            span.update(level="WARNING", status_message=type(exc).__name__)
            span.end()
            raise
        span.update(metadata={"hits": len(facts)})
        span.end()
        return facts

    def close(self, status: str, answer: str) -> None:
        """The answer and the turn's final status (complete, interrupted, failed)."""
        self.root.update(
            output=answer,
            level=LEVEL_OF_STATUS.get(status),
            status_message=None if status == "complete" else status,
            metadata={"status": status},
        )
        self.root.end()
