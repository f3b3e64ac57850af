"""The planner's graph: one forced call of make_plan; the team graph then hands out the steps
(agents/graph/graph.py, `next_step`)."""

from langgraph.graph import END

from agents.graph.planner.prompts import SYSTEM_PROMPT
from agents.graph.planner.state import PlannerState
from agents.graph.planner.tools import TOOLS
from agents.graph.react import react_agent

NAME = "planner"
TITLE = "Planner"
DESCRIPTION = "Splits a request of several steps into tasks and hands each to a specialist."
# The supervisor's tool that hands a message to it, and when it should.
HANDOFF_TOOL = "multi_step_planner"
ROUTES = (
    "a request of several steps for different specialists, such as "
    "looking something up in their documents and then computing with it."
)


def build_graph():
    return react_agent(
        NAME,
        state_schema=PlannerState,
        system_prompt=SYSTEM_PROMPT,
        tools=TOOLS,
        tool_choice="required",
        after_tools=END,
    )
