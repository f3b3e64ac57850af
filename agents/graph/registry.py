"""The agents a session may use: `auto` (the supervisor routes each message), then each
specialist, by name. Adding an agent is a folder in the react-agent layout plus a line here."""

from dataclasses import dataclass
from types import ModuleType

from agents.graph.context import AUTO
from agents.graph.general import graph as general
from agents.graph.planner import graph as planner
from agents.graph.researcher import graph as researcher


@dataclass(frozen=True)
class AgentInfo:
    """What the API lists of an agent."""

    name: str
    title: str
    description: str


AUTO_AGENT = AgentInfo(
    AUTO, "Auto", "A supervisor hands each message to the specialist that fits it."
)

# Each specialist's module: NAME, TITLE, DESCRIPTION and build_graph().
SPECIALISTS: dict[str, ModuleType] = {
    module.NAME: module for module in (general, researcher, planner)
}


def info(name: str) -> AgentInfo:
    if name == AUTO:
        return AUTO_AGENT
    module = SPECIALISTS[name]
    return AgentInfo(module.NAME, module.TITLE, module.DESCRIPTION)


def listing() -> list[AgentInfo]:
    """Every agent a session may use, `auto` first."""
    return [info(name) for name in (AUTO, *SPECIALISTS)]


def names() -> list[str]:
    return [AUTO, *SPECIALISTS]
