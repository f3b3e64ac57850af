"""What the server hands one agent run (LangGraph's `context_schema`), never the model.

Who is asking comes from the authenticated request, so a tool can only ever reach that
person's data; the turn's memory search runs while the checkpoint loads and the first model
call awaits it.
"""

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Context:
    user_id: str
    # The person's memories for this turn (a search already under way), or None: no search.
    memory_search: asyncio.Future[list[str]] | None = None
    # Longest answer one model call may write (a cost guard, and a stop for a looping model).
    max_tokens: int = 1024

    async def memories(self) -> list[str]:
        """The facts the search found (it never raises), or none."""
        return await self.memory_search if self.memory_search is not None else []
