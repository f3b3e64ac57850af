"""The supervisor's step: one model call over the latest exchange with a handoff tool per
specialist (tool choice required); the call it makes becomes a LangGraph Command that hands
the turn to that specialist. Its words, if a model writes any, never reach the person."""

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.graph import registry
from agents.graph.context import Context
from agents.graph.prompts import as_data
from agents.graph.react import bound_model
from agents.graph.state import Handoff, TeamState
from agents.graph.supervisor import prompts
from agents.graph.supervisor.tools import TOOLS, TOOLS_WITHOUT_DOCUMENTS, chosen_agent
from agents.llm import text_muted
from agentsite.asyncdb import db_call
from documents.selectors import ready_titles

NAME = "supervisor"
FALLBACK_AGENT = "general"  # when the model names no specialist
ROUTING_MAX_TOKENS = 64  # a handoff call has no arguments
DOCUMENT_TITLES = 10  # the newest ready documents the supervisor is told of


def routing_view(state: TeamState, document_titles: list[str]) -> list:
    """What the supervisor reads: its prompt, the person's documents (a question about "my
    lease" is a documents question only if there is one), the last exchange and the new
    question. Not the whole history: routing needs the thread's topic, and a short prompt is
    cheap."""
    messages = state["messages"]
    questions = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    documents = (
        prompts.DOCUMENTS.format(titles=", ".join(as_data(t) for t in document_titles))
        if document_titles
        else prompts.NO_DOCUMENTS
    )
    view = [SystemMessage(prompts.SYSTEM_PROMPT), SystemMessage(documents)]
    if len(questions) > 1:
        earlier, latest = questions[-2], questions[-1]
        answers = [
            m for m in messages[earlier:latest] if isinstance(m, AIMessage) and m.text.strip()
        ]
        view.append(HumanMessage(messages[earlier].content))
        if answers:
            view.append(AIMessage(answers[-1].text))
        if state.get("active_agent") in registry.SPECIALISTS:
            title = registry.SPECIALISTS[state["active_agent"]].TITLE
            view.append(SystemMessage(prompts.LAST_AGENT.format(agent=title)))
    view.append(HumanMessage(messages[questions[-1]].content))
    return view


async def supervise(state: TeamState, config: RunnableConfig, runtime: Runtime[Context]) -> Command:
    titles = await db_call(ready_titles)(runtime.context.user_id, limit=DOCUMENT_TITLES)
    tools = TOOLS if titles else TOOLS_WITHOUT_DOCUMENTS
    model = bound_model(
        f"{NAME}-{len(tools)}-tools",
        tools,
        ROUTING_MAX_TOKENS,
        tool_choice="required",
        purpose="routing",
        temperature=0,  # the same message goes to the same specialist
    )
    with text_muted():
        decision = await model.ainvoke(routing_view(state, titles), config)
    runtime.stream_writer({"usage": decision.usage_metadata or {}})
    agent = chosen_agent(decision.tool_calls) or FALLBACK_AGENT
    reason = f"The supervisor chose the {registry.SPECIALISTS[agent].TITLE.lower()}."
    handoff = Handoff({"name": agent, "from": None, "reason": reason})
    return Command(goto=agent, update={"active_agent": agent, "handoffs": [handoff]})
