"""The planner's one tool: the plan, validated, written into the team's state."""

from typing import Annotated

from langchain_core.messages import ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.types import Command
from pydantic import BaseModel, Field

from agents.graph.planner import prompts
from agents.graph.state import PlanStep, StepAgent

MAX_STEPS = 4


class StepInput(BaseModel):
    agent: StepAgent = Field(description="general or researcher")
    task: str = Field(max_length=300, description="what this specialist must do")


@tool
def make_plan(
    steps: Annotated[list[StepInput], Field(min_length=1)],
    tool_call_id: Annotated[str, InjectedToolCallId],
) -> Command:
    """Split the request into steps, each done by one specialist, in order (at most four)."""
    kept = [PlanStep(agent=step.agent, task=" ".join(step.task.split())) for step in steps]
    # A plan works with what the person's documents say, so they are read first: the 1.5B
    # put the computing step first in 3 of 3 bench plans, and it then guessed the numbers.
    kept = sorted(kept, key=lambda step: step["agent"] != "researcher")[:MAX_STEPS]
    listing = "\n".join(f"{n}. {s['agent']}: {s['task']}" for n, s in enumerate(kept, start=1))
    message = ToolMessage(
        prompts.PLAN_ACCEPTED.format(steps=listing), name="make_plan", tool_call_id=tool_call_id
    )
    return Command(update={"plan": kept, "messages": [message]})


TOOLS = [make_plan]
