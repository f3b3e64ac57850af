"""What the agent carries through one conversation (checkpointed in Postgres per session)."""

from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class AgentState(TypedDict):
    """The conversation so far: each question after the system message of its context (when it
    was asked, the memories it found; agents/graph/prompts.py), the answers and tool calls."""

    messages: Annotated[list[AnyMessage], add_messages]


class TurnInput(TypedDict):
    """What a turn starts from: the person's message (its context is looked up first)."""

    question: str
