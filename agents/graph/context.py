"""What the server hands one agent run (LangGraph's `context_schema`), never the model.

Who is asking comes from the authenticated request, so a tool can only ever reach that
person's data; the turn's memory search runs while the checkpoint loads and the first model
call awaits it. Which agent answers (a specialist, or `auto`: the supervisor picks) is the
session's setting, not something the model or the message decides.
"""

import asyncio
from dataclasses import dataclass

AUTO = "auto"


@dataclass(frozen=True)
class Context:
    user_id: str
    # The person's memories for this turn (a search already under way), or None: no search.
    memory_search: asyncio.Future[list[str]] | None = None
    # Longest answer one model call may write (a cost guard, and a stop for a looping model).
    max_tokens: int = 1024
    # The session's agent: a specialist's name, or AUTO (the supervisor routes each turn).
    agent: str = AUTO

    async def memories(self) -> list[str]:
        """The facts the search found (it never raises), or none."""
        return await self.memory_search if self.memory_search is not None else []
