"""What the agent carries through one conversation (checkpointed in Postgres per session)."""

from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class AgentState(TypedDict):
    """The conversation so far. Memories are not state: they are looked up afresh each turn."""

    messages: Annotated[list[AnyMessage], add_messages]
