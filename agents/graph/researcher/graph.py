"""The researcher's graph: the ReAct loop over the document search, then the citations of
its answer, chosen only among the passages its searches returned in this turn."""

import re

from agents.graph.react import react_agent
from agents.graph.researcher.prompts import SYSTEM_PROMPT
from agents.graph.researcher.state import ResearcherState
from agents.graph.researcher.tools import TOOLS

NAME = "researcher"
TITLE = "Documents researcher"
DESCRIPTION = "Answers from your uploaded documents and quotes the passages it used."
# The supervisor's tool that hands a message to it, and when it should.
HANDOFF_TOOL = "documents_researcher"
ROUTES = "questions about the person's own uploaded documents, files, notes or PDFs."

_CITED = re.compile(r"\[(\d+)\]")


def cite(state: ResearcherState) -> dict:
    """The passages the answer cites by number; if it cites none, every passage it was shown.
    A number that names no passage of this turn cites nothing."""
    passages = state.get("passages") or []
    answer = state["messages"][-1].content
    numbers = {int(n) for n in _CITED.findall(answer if isinstance(answer, str) else "")}
    cited = [p for number, p in enumerate(passages, start=1) if number in numbers] or passages
    known = {c["chunk_id"] for c in state.get("citations") or []}
    new = []
    for passage in cited:
        if passage["chunk_id"] not in known:
            known.add(passage["chunk_id"])
            new.append(passage)
    return {"citations": [*(state.get("citations") or []), *new]}


def build_graph():
    return react_agent(
        NAME,
        state_schema=ResearcherState,
        system_prompt=SYSTEM_PROMPT,
        tools=TOOLS,
        # It answers from the documents: its first step is always a search (on the bench,
        # the 1.5B left to choose once answered a lease question without one).
        first_tool_choice="required",
        finish=cite,
    )
