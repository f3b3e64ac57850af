"""The agent's conversation state in Postgres (langgraph-checkpoint-postgres), per event loop.

An async connection pool belongs to the loop that opened it, so each loop (the ASGI server's,
the sync callers' background loop) gets its own pool, checkpointer and compiled graph. The
connection settings are Django's own, read when the pool opens (tests switch databases).
"""

import asyncio
import weakref

from django.db import connections
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from agents.graph.graph import build_graph
from agentsite import pg

POOL_MAX = 20

_per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _LoopAgent:
    def __init__(self):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        self.pool = AsyncConnectionPool(
            pg.conninfo(connections["default"].settings_dict),
            min_size=1,
            max_size=POOL_MAX,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        self.checkpointer = AsyncPostgresSaver(self.pool)
        self.graph = build_graph(self.checkpointer)
        self.ready = asyncio.Lock()
        self.opened = False

    async def open(self):
        async with self.ready:
            if not self.opened:
                await self.pool.open(wait=True)
                self.opened = True
        return self


async def loop_agent() -> _LoopAgent:
    loop = asyncio.get_running_loop()
    agent = _per_loop.get(loop)
    if agent is None:
        agent = _per_loop[loop] = _LoopAgent()
    return await agent.open()


async def agent_graph():
    """The compiled agent graph with its Postgres checkpointer, for the running loop."""
    return (await loop_agent()).graph


async def delete_thread(session_id) -> None:
    """Forget the agent's state of a session (its checkpoints)."""
    await (await loop_agent()).checkpointer.adelete_thread(str(session_id))


async def close_loop_agent() -> None:
    """Close this loop's pool (tests and shutdown)."""
    agent = _per_loop.pop(asyncio.get_running_loop(), None)
    if agent is not None and agent.opened:
        await agent.pool.close()
