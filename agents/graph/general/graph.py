"""The general assistant's graph: the ReAct loop over today's tools."""

from agents.graph.general.prompts import SYSTEM_PROMPT
from agents.graph.general.tools import TOOLS
from agents.graph.react import react_agent
from agents.graph.state import ConversationState

NAME = "general"
TITLE = "General assistant"
DESCRIPTION = (
    "Everyday questions, arithmetic, dates and times, and what you said or told it before."
)


def build_graph():
    return react_agent(
        NAME, state_schema=ConversationState, system_prompt=SYSTEM_PROMPT, tools=TOOLS
    )
