"""The agent: the question after its context; call the model (the ring, tools bound); run the
tools it asks for; repeat."""

from datetime import UTC, datetime
from functools import lru_cache

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.messages.ai import add_usage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from agents.graph import prompts
from agents.graph.context import Context
from agents.graph.general.tools import TOOLS, describe_tool_error, traced_call
from agents.graph.state import AgentState, TurnInput
from agents.llm import ModelRing

# The graph's nodes, by the names its stream reports them under.
OPEN_TURN = "open_turn"
CALL_MODEL = "call_model"
RUN_TOOLS = "tools"

# Model calls + tool rounds one turn may take before it is stopped as a failure.
RECURSION_LIMIT = 12


@lru_cache(maxsize=4)
def chat_model(max_tokens: int):
    """The ring with the tools bound; their JSON schemas are built once, not per call."""
    return ModelRing(purpose="chat").bind_tools(TOOLS, max_tokens=max_tokens)


async def open_turn(state: TurnInput, runtime: Runtime[Context]) -> dict:
    """The question, after the system message of its context: when it was asked and the
    memories its search found (a search already under way while the checkpoint loaded)."""
    memories = await runtime.context.memories()
    context = SystemMessage(prompts.turn_context(datetime.now(UTC), memories))
    return {"messages": [context, HumanMessage(state["question"])]}


async def call_model(state: AgentState, config: RunnableConfig, runtime: Runtime[Context]) -> dict:
    model = chat_model(runtime.context.max_tokens)
    conversation = [SystemMessage(prompts.SYSTEM_PROMPT), *state["messages"]]
    response = await model.ainvoke(conversation, config)
    if not response.content and not response.tool_calls:
        # Small models sometimes stop without a word after tool results: ask once more,
        # rather than end the turn with an empty answer.
        first = response
        response = await model.ainvoke([*conversation, SystemMessage(prompts.ANSWER_NOW)], config)
        response.usage_metadata = add_usage(first.usage_metadata, response.usage_metadata)
    return {"messages": [response]}


def route_after_model(state: AgentState) -> str:
    """To the tools when the model asked for any; otherwise the turn is over."""
    last = state["messages"][-1]
    return RUN_TOOLS if getattr(last, "tool_calls", None) else END


def build_graph(checkpointer=None):
    builder = StateGraph(AgentState, input_schema=TurnInput, context_schema=Context)
    builder.add_node(OPEN_TURN, open_turn)
    builder.add_node(CALL_MODEL, call_model)
    # Several calls in one answer run concurrently; failures become messages to the model.
    # Each call is a span of the turn's trace when Langfuse is on (agents/graph/general/tools.py).
    tools = ToolNode(TOOLS, handle_tool_errors=describe_tool_error, awrap_tool_call=traced_call)
    builder.add_node(RUN_TOOLS, tools)
    builder.add_edge(START, OPEN_TURN)
    builder.add_edge(OPEN_TURN, CALL_MODEL)
    builder.add_conditional_edges(CALL_MODEL, route_after_model, [RUN_TOOLS, END])
    builder.add_edge(RUN_TOOLS, CALL_MODEL)
    return builder.compile(checkpointer=checkpointer)
