"""Who and what a piece of work is for: request, user and session ids, carried in contextvars.

Contextvars follow `await`, `sync_to_async` and threads started by asgiref, so a log line written
anywhere during a request (or a Celery task queued by it) can say which request it belongs to.
"""

from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("request_id", "user_id", "session_id")

_vars: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in FIELDS}


def get(name: str) -> str | None:
    return _vars[name].get()


def current() -> dict[str, str | None]:
    """The ids known right now, e.g. to copy into a Celery task's headers."""
    return {name: var.get() for name, var in _vars.items()}


def bind(**values: object) -> None:
    """Set ids for the rest of the current context (None clears one)."""
    for name, value in values.items():
        _vars[name].set(None if value is None else str(value))


@contextmanager
def bound(**values: object):
    """Set ids for the duration of a block, then restore what was there."""
    tokens = {name: _vars[name].set(None if v is None else str(v)) for name, v in values.items()}
    try:
        yield
    finally:
        for name, token in tokens.items():
            _vars[name].reset(token)
