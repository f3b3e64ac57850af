"""The supervisor's tools: one handoff per specialist, `transfer_to_<name>`. They are never
run: the supervisor reads the call and hands the turn over with a LangGraph Command."""

from langchain_core.tools import StructuredTool

from agents.graph import registry

PREFIX = "transfer_to_"


def _handoff(name: str) -> StructuredTool:
    module = registry.SPECIALISTS[name]

    def transfer() -> str:
        return f"Transferred to {name}."

    return StructuredTool.from_function(
        transfer, name=PREFIX + name, description=f"Hand the message to the {module.TITLE}."
    )


TOOLS = [_handoff(name) for name in registry.SPECIALISTS]


def chosen_agent(tool_calls: list[dict]) -> str | None:
    """The specialist the first handoff call names, if it names one."""
    for call in tool_calls:
        name = call["name"].removeprefix(PREFIX)
        if call["name"].startswith(PREFIX) and name in registry.SPECIALISTS:
            return name
    return None
