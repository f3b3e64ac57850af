"""What the team of agents carries through one conversation (checkpointed in Postgres per
session): the conversation every agent reads and extends, who answered last, and this turn's
handoffs, plan and citations.

Each agent's own graph may add private keys (the researcher's passages); only the keys below
pass between the agents and outlive a turn.
"""

from typing import Annotated, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

# One agent handing the turn to another; `from` is None for the turn's first agent.
Handoff = TypedDict("Handoff", {"name": str, "from": str | None, "reason": str})


# The specialists a plan's step may go to (the planner itself is not one).
StepAgent = Literal["general", "researcher"]


class PlanStep(TypedDict):
    """One step of the planner's plan: which specialist does it, and what it must do."""

    agent: StepAgent
    task: str


class Citation(TypedDict):
    """A passage of the person's own documents an answer used (retrieved in this turn)."""

    document_id: str
    title: str
    chunk_id: str
    text: str
    score: float


class ConversationState(TypedDict):
    """The conversation: each question after the system message of its context (when it was
    asked, the memories it found; agents/graph/prompts.py), the answers and tool calls."""

    messages: Annotated[list[AnyMessage], add_messages]


class TeamState(ConversationState):
    """The whole multi-agent state of a session."""

    active_agent: str  # the agent that wrote the last answer (kept across turns)
    handoffs: list[Handoff]  # this turn's, in order
    plan: list[PlanStep]  # this turn's plan, if the planner wrote one
    plan_next: int  # how many of its steps were handed out
    citations: list[Citation]  # this turn's


class TurnInput(TypedDict):
    """What a turn starts from: the person's message (its context is looked up first)."""

    question: str
