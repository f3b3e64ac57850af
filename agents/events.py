"""What a chat turn tells its client, one class per SSE event of API.md.

The turn and the agent run yield these; the stream writes each as `event: <name>` with the
fields as its JSON data, and the non-streamed API just runs through them.
"""

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class TurnEvent:
    kind: ClassVar[str]  # the SSE event's name

    @property
    def data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Started(TurnEvent):
    kind: ClassVar[str] = "start"
    session_id: str
    user_message_id: str
    assistant_message_id: str


@dataclass(frozen=True, slots=True)
class Token(TurnEvent):
    kind: ClassVar[str] = "token"
    text: str

    @property
    def data(self) -> dict[str, Any]:
        return {"text": self.text}  # one per token: skip asdict's deep copy


@dataclass(frozen=True, slots=True)
class ToolCall(TurnEvent):
    kind: ClassVar[str] = "tool_call"
    id: str
    name: str
    arguments: dict


@dataclass(frozen=True, slots=True)
class ToolResult(TurnEvent):
    kind: ClassVar[str] = "tool_result"
    id: str
    name: str
    content: str


@dataclass(frozen=True, slots=True)
class Fallback(TurnEvent):
    kind: ClassVar[str] = "fallback"
    from_model: str
    to_model: str
    reason: str


@dataclass(frozen=True, slots=True)
class Done(TurnEvent):
    kind: ClassVar[str] = "done"
    assistant_message_id: str
    model: str
    finish_reason: str
    usage: dict


@dataclass(frozen=True, slots=True)
class Failed(TurnEvent):
    kind: ClassVar[str] = "error"
    code: str
    detail: str
    request_id: str | None
