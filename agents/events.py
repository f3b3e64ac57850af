"""What a chat turn tells its client, one class per SSE event of API.md.

The turn and the agent run yield these; the stream writes each as `event: <name>` with the
fields as its JSON data, and the non-streamed API just runs through them.
"""

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, dataclass_transform


class TurnEvent:
    kind: ClassVar[str]  # the SSE event's name

    @property
    def data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass_transform(frozen_default=True)
def event(kind: str):
    """A frozen event class whose SSE event is `kind`."""

    def declare(cls):
        cls.kind = kind
        return dataclass(frozen=True, slots=True)(cls)

    return declare


@event("start")
class Started(TurnEvent):
    session_id: str
    user_message_id: str
    assistant_message_id: str


@event("token")
class Token(TurnEvent):
    text: str

    @property
    def data(self) -> dict[str, Any]:
        return {"text": self.text}  # one per token: skip asdict's deep copy


@event("tool_call")
class ToolCall(TurnEvent):
    id: str
    name: str
    arguments: dict


@event("tool_result")
class ToolResult(TurnEvent):
    id: str
    name: str
    content: str


@event("fallback")
class Fallback(TurnEvent):
    from_model: str
    to_model: str
    reason: str


@event("agent")
class AgentChanged(TurnEvent):
    """A handoff: the agent now writing, the one before it (None for the first), and why."""

    name: str
    from_agent: str | None
    reason: str

    @property
    def data(self) -> dict[str, Any]:
        return {"name": self.name, "from": self.from_agent, "reason": self.reason}


@event("citation")
class Cited(TurnEvent):
    """A passage of the person's own documents the answer used (retrieved in this turn)."""

    document_id: str
    title: str
    chunk_id: str
    text: str
    score: float


@event("done")
class Done(TurnEvent):
    assistant_message_id: str
    model: str
    finish_reason: str
    usage: dict


@event("error")
class Failed(TurnEvent):
    code: str
    detail: str
    request_id: str | None
