"""ASGI's lifespan protocol for the web app, which Django's handler does not speak: at shutdown,
the Langfuse spans and scores still queued are sent. uvicorn ends a process by re-raising the
signal it caught once the server has stopped, so atexit handlers (where the SDK would flush)
never run in a web process."""

import asyncio

from agentsite import tracing


class Lifespan:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(tracing.flush)  # the SDK's flush blocks
                await send({"type": "lifespan.shutdown.complete"})
                return
