"""Who hears a ring call's text and model switches as they happen.

The chat turn sets a listener for the duration of the agent run; the ring, deep inside
LangGraph, streams from the provider and hands each piece of text (and each fallback) straight
to it. That is far cheaper per token than LangChain's callback event stream, which builds an
event object for every token of every run.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class RingListener(Protocol):
    def on_text(self, text: str) -> None: ...

    def on_fallback(self, switch: dict) -> None: ...


current: ContextVar[RingListener | None] = ContextVar("ring_listener", default=None)


@contextmanager
def listening(listener: RingListener) -> Iterator[None]:
    token = current.set(listener)
    try:
        yield
    finally:
        current.reset(token)


class _SwitchesOnly:
    """Passes model switches on, drops the text: for a call whose words are not the answer."""

    def __init__(self, listener: RingListener | None):
        self.listener = listener

    def on_text(self, text: str) -> None:
        pass

    def on_fallback(self, switch: dict) -> None:
        if self.listener is not None:
            self.listener.on_fallback(switch)


@contextmanager
def text_muted() -> Iterator[None]:
    """Within this block the listener hears no text (a routing call's), but still switches."""
    with listening(_SwitchesOnly(current.get())):
        yield
