"""The agent's real tools in OpenAI form, for tests of our OpenAI-compatible servers."""

from langchain_core.utils.function_calling import convert_to_openai_tool

from agents.graph.general.tools import calculator, current_time

CALCULATOR = convert_to_openai_tool(calculator)
CURRENT_TIME = convert_to_openai_tool(current_time)
