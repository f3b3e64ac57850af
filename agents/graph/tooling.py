"""What every agent's tools share: the error a model should hear about, how a failure is told
to the model, and each call as a span of the turn's trace."""

import logging

from agentsite import tracing

logger = logging.getLogger(__name__)


class ToolError(Exception):
    """A failure the model should hear about in words (bad input, unknown zone...)."""


async def traced_call(request, execute):
    """One tool call as a span of the turn's trace (the tool's name, ok or error, how long),
    when the turn is traced; otherwise just the call. Arguments and results are not sent."""
    name = request.tool_call["name"]
    span = tracing.start_child(f"tool {name}", as_type="tool", metadata={"tool": name})
    if span is None:
        return await execute(request)
    try:
        result = await execute(request)
    except BaseException as exc:
        span.update(level="ERROR", status_message=type(exc).__name__)
        span.end()
        raise
    failed = getattr(result, "status", "success") == "error"  # the tool's error, told the model
    span.update(
        level="ERROR" if failed else None,
        metadata={"outcome": "error" if failed else "ok"},
    )
    span.end()
    return result


def describe_tool_error(error: Exception) -> str:
    """What the model is told when a tool fails; internal errors are logged, not shown."""
    from langgraph.prebuilt.tool_node import ToolInvocationError

    if isinstance(error, ToolError | ToolInvocationError):
        return f"Error: {error}"
    logger.exception("tool failed", exc_info=error)
    return "Error: the tool failed unexpectedly; answer without it."
