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
# The supervisor's tool that hands a message to it, and when it should.
HANDOFF_TOOL = "general_assistant"
ROUTES = (
    "everything else: arithmetic, dates and times, chat, what the person said or told you before."
)


def build_graph():
    return react_agent(
        NAME, state_schema=ConversationState, system_prompt=SYSTEM_PROMPT, tools=TOOLS
    )
