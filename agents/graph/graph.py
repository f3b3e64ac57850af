"""The team: the question after its context; then the session's agent, or (for `auto`) the
supervisor's pick; a planner's steps handed out one by one; then the turn is over.

Every handoff is a LangGraph Command naming the next agent; each agent is its own graph (a
subgraph node) over the shared conversation, and the whole state is checkpointed per session.
"""

from datetime import UTC, datetime

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.graph import prompts, registry
from agents.graph.context import Context
from agents.graph.planner import prompts as planner_prompts
from agents.graph.state import Handoff, TeamState, TurnInput
from agents.graph.supervisor import graph as supervisor

# The team graph's own nodes, by the names its stream reports them under (the agents' nodes
# are named after the agents).
OPEN_TURN = "open_turn"
SUPERVISOR = supervisor.NAME
NEXT_STEP = "next_step"

# Steps one turn may take, in the team graph and in each agent's graph, before it is stopped.
RECURSION_LIMIT = 16


async def open_turn(state: TurnInput, runtime: Runtime[Context]) -> Command:
    """The question, after the system message of its context (when it was asked, the memories
    its search found: a search already under way while the checkpoint loaded); then the
    session's agent, or the supervisor."""
    memories = await runtime.context.memories()
    context = SystemMessage(prompts.turn_context(datetime.now(UTC), memories))
    update = {
        "messages": [context, HumanMessage(state["question"])],
        "handoffs": [],
        "plan": [],
        "plan_next": 0,
        "citations": [],
    }
    agent = runtime.context.agent
    if agent not in registry.SPECIALISTS:
        return Command(goto=SUPERVISOR, update=update)
    chosen = Handoff({"name": agent, "from": None, "reason": "The session's agent."})
    return Command(goto=agent, update={**update, "active_agent": agent, "handoffs": [chosen]})


def next_step(state: TeamState) -> Command:
    """The planner's next step to its specialist, with the step as its instruction; or the
    end of the turn when no step is left."""
    plan, done = state.get("plan") or [], state.get("plan_next", 0)
    if done >= len(plan):
        return Command(goto=END)
    step = plan[done]
    note = planner_prompts.STEP.format(number=done + 1, total=len(plan), task=step["task"])
    handoff = Handoff({"name": step["agent"], "from": state.get("active_agent"), "reason": note})
    return Command(
        goto=step["agent"],
        update={
            "messages": [SystemMessage(note)],
            "plan_next": done + 1,
            "active_agent": step["agent"],
            "handoffs": [*(state.get("handoffs") or []), handoff],
        },
    )


def build_graph(checkpointer=None):
    builder = StateGraph(TeamState, input_schema=TurnInput, context_schema=Context)
    specialists = list(registry.SPECIALISTS)
    builder.add_node(OPEN_TURN, open_turn, destinations=(SUPERVISOR, *specialists))
    builder.add_node(SUPERVISOR, supervisor.supervise, destinations=tuple(specialists))
    for name, module in registry.SPECIALISTS.items():
        builder.add_node(name, module.build_graph())
        builder.add_edge(name, NEXT_STEP)
    builder.add_node(NEXT_STEP, next_step, destinations=(*specialists, END))
    builder.add_edge(START, OPEN_TURN)
    return builder.compile(checkpointer=checkpointer)
