"""The researcher's state: the team's conversation and citations, and the passages its
searches found in this turn (private to the researcher, gone when it hands back)."""

import operator
from typing import Annotated

from agents.graph.state import Citation, ConversationState


class ResearcherState(ConversationState):
    citations: list[Citation]
    # Every passage shown to the model in this turn, numbered from 1 in the order found.
    passages: Annotated[list[Citation], operator.add]
