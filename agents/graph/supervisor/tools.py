"""The supervisor's tools: one handoff per specialist, named as the specialist's HANDOFF_TOOL
says (a name a small model links to the question's words: "documents_researcher"). They are
never run: the supervisor reads the call and hands the turn over with a LangGraph Command."""

from langchain_core.tools import StructuredTool

from agents.graph import registry


def _handoff(name: str) -> StructuredTool:
    module = registry.SPECIALISTS[name]

    def transfer() -> str:
        return f"Transferred to {name}."

    return StructuredTool.from_function(
        transfer,
        name=module.HANDOFF_TOOL,
        description=f"Hand the message to the {module.TITLE.lower()}: {module.ROUTES}",
    )


TOOLS = [_handoff(name) for name in registry.SPECIALISTS]
# A plan hands steps to the researcher and another specialist: without a document there is
# nothing to plan over, and a small model offered the planner picks it for any two-part ask.
TOOLS_WITHOUT_DOCUMENTS = [tool for tool in TOOLS if tool.name != "multi_step_planner"]
_AGENT_OF_TOOL = {module.HANDOFF_TOOL: name for name, module in registry.SPECIALISTS.items()}


def chosen_agent(tool_calls: list[dict]) -> str | None:
    """The specialist the first handoff call names, if it names one."""
    for call in tool_calls:
        if call["name"] in _AGENT_OF_TOOL:
            return _AGENT_OF_TOOL[call["name"]]
    return None
