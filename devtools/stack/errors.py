"""The stack's errors, below every module that raises them."""


class StackError(RuntimeError):
    """The embedded stack could not do what was asked; the message says why."""


class PortInUseError(StackError):
    """Our server is down but its port is taken by some other process."""


class ServerStartError(StackError):
    """A server did not come up; the message carries the tail of its log."""
