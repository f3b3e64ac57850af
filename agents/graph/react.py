"""The loop every specialist runs, as its own LangGraph graph: call the model (the ring, the
agent's tools bound) with the agent's system prompt before the conversation; run the tools it
asks for; repeat until it answers in words.

Each agent passes its own state schema, prompt and tools; the loop is written once.
"""

from collections.abc import Callable, Sequence

from langchain_core.messages import SystemMessage, ToolMessage
from langchain_core.messages.ai import add_usage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from agents.graph import prompts
from agents.graph.context import Context
from agents.graph.tooling import describe_tool_error, traced_call
from agents.llm import ModelRing

# An agent graph's nodes, by the names the run's stream reports them under.
CALL_MODEL = "call_model"
RUN_TOOLS = "tools"

_bound_models: dict[tuple[str, int], ModelRing] = {}


def bound_model(
    agent: str,
    tools: Sequence[BaseTool],
    max_tokens: int,
    tool_choice: str | None = None,
    purpose: str = "chat",
    **params,
):
    """The ring with an agent's tools bound; their JSON schemas are built once per agent.
    `params` are more request parameters (the supervisor's temperature)."""
    key = (agent, max_tokens)
    if key not in _bound_models:
        ring = ModelRing(purpose=purpose)
        _bound_models[key] = ring.bind_tools(
            tools, tool_choice=tool_choice, max_tokens=max_tokens, **params
        )
    return _bound_models[key]


def react_agent(
    name: str,
    *,
    state_schema: type,
    system_prompt: str,
    tools: Sequence[BaseTool],
    tool_choice: str | None = None,
    first_tool_choice: str | None = None,
    after_tools: str = CALL_MODEL,
    finish: Callable | None = None,
):
    """An agent's graph: model → tools → `after_tools` (the model again, or the end), then
    `finish` (a node, e.g. the researcher's citations) once the model answers in words.
    `first_tool_choice` is the tool choice of the agent's first call in a turn (the
    researcher always searches first), `tool_choice` that of every call after a tool."""

    async def call_model(state, config: RunnableConfig, runtime: Runtime[Context]) -> dict:
        after_a_tool = isinstance(state["messages"][-1], ToolMessage)
        if first_tool_choice is not None and not after_a_tool:
            model = bound_model(
                f"{name}-first", tools, runtime.context.max_tokens, first_tool_choice
            )
        else:
            model = bound_model(name, tools, runtime.context.max_tokens, tool_choice)
        conversation = [SystemMessage(system_prompt), *state["messages"]]
        response = await model.ainvoke(conversation, config)
        if not response.content and not response.tool_calls:
            # Small models sometimes stop without a word after tool results: ask once more,
            # rather than end the turn with an empty answer.
            first = response
            again = [*conversation, SystemMessage(prompts.ANSWER_NOW)]
            response = await model.ainvoke(again, config)
            response.usage_metadata = add_usage(first.usage_metadata, response.usage_metadata)
        return {"messages": [response]}

    done = "finish" if finish is not None else END

    def route_after_model(state) -> str:
        """To the tools when the model asked for any; otherwise the agent is done."""
        return RUN_TOOLS if getattr(state["messages"][-1], "tool_calls", None) else done

    builder = StateGraph(state_schema, context_schema=Context)
    builder.add_node(CALL_MODEL, call_model)
    # Several calls in one answer run concurrently; failures become messages to the model.
    # Each call is a span of the turn's trace when Langfuse is on (agents/graph/tooling.py).
    builder.add_node(
        RUN_TOOLS,
        ToolNode(tools, handle_tool_errors=describe_tool_error, awrap_tool_call=traced_call),
    )
    builder.add_edge(START, CALL_MODEL)
    builder.add_conditional_edges(CALL_MODEL, route_after_model, [RUN_TOOLS, done])
    builder.add_edge(RUN_TOOLS, after_tools if after_tools != END else done)
    if finish is not None:
        builder.add_node("finish", finish)
        builder.add_edge("finish", END)
    # No checkpointer of its own: the team graph checkpoints the conversation, and an agent's
    # run never outlives its turn (nothing to resume: inheriting the team's checkpointer only
    # cost a checkpoint read per agent run, under a namespace that is new every time).
    return builder.compile(checkpointer=False, name=name)
