"""The researcher's one tool: a search of the asking person's own ready documents."""

from langchain_core.messages import ToolMessage
from langchain_core.tools import tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command

from agents.graph.context import Context
from agents.graph.researcher import prompts
from agents.graph.state import Citation
from agentsite.asyncdb import db_call

PASSAGES_PER_SEARCH = 5


@tool
async def search_documents(query: str, runtime: ToolRuntime[Context]) -> Command:
    """Search this person's uploaded documents by meaning, e.g. "notice period" or "refund
    policy"; returns numbered passages to cite."""
    from documents import selectors

    user_id = runtime.context.user_id  # the authenticated person, never the model's choice
    found = await selectors.passages_for_turn(user_id, query, limit=PASSAGES_PER_SEARCH)
    passages = [_as_citation(passage) for passage in found]
    if passages:
        shown = len(runtime.state.get("passages") or [])
        content = prompts.show_passages(passages, first_number=shown + 1)
    elif await db_call(selectors.has_ready_documents)(user_id):
        content = prompts.NOTHING_FOUND
    else:
        content = prompts.NO_DOCUMENTS
    message = ToolMessage(content, name="search_documents", tool_call_id=runtime.tool_call_id)
    return Command(update={"passages": passages, "messages": [message]})


def _as_citation(passage) -> Citation:
    return Citation(
        document_id=str(passage.document_id),
        title=passage.title,
        chunk_id=str(passage.chunk_id),
        text=passage.text,
        score=round(float(passage.score), 4),
    )


TOOLS = [search_documents]
