"""The agent's conversation state in Postgres (langgraph-checkpoint-postgres), per event loop.

An async connection pool belongs to the loop that opened it, so each loop (the ASGI server's,
the sync callers' background loop) gets its own pool, checkpointer and compiled graph. The
connection settings are Django's own, read when the pool opens (tests switch databases).
"""

import asyncio

from django.db import connections
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from agents.graph.graph import build_graph
from agentsite import pg
from agentsite.loops import loop_local, pop_loop_local

POOL_MAX = 20
LOOP_KEY = "agent-graph"


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
    return await loop_local(LOOP_KEY, _LoopAgent).open()


async def agent_graph():
    """The compiled agent graph with its Postgres checkpointer, for the running loop."""
    return (await loop_agent()).graph


async def delete_thread(session_id) -> None:
    """Forget the agent's state of a session (its checkpoints)."""
    await (await loop_agent()).checkpointer.adelete_thread(str(session_id))


async def close_loop_agent() -> None:
    """Close this loop's pool (tests and shutdown)."""
    agent = pop_loop_local(LOOP_KEY)
    if agent is not None and agent.opened:
        await agent.pool.close()
