"""The general assistant's tools. Each works offline and fails with a message the model can use."""

import ast
import math
import operator
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from langchain_core.tools import tool
from langgraph.prebuilt import ToolRuntime

from agents.graph import prompts
from agents.graph.context import Context
from agents.graph.tooling import ToolError

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e100
SEARCH_RESULTS = 5


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "log": math.log,
    "exp": math.exp,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def evaluate(expression: str) -> float | int:
    """Arithmetic from a parse tree: numbers, + - * / // % **, a few functions. No eval."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"The expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(expression.replace("^", "**").replace("\u00d7", "*"), mode="eval")
    except SyntaxError:
        raise ToolError(f"'{expression}' is not an arithmetic expression.") from None
    try:
        value = _eval(tree.body)
    except ZeroDivisionError:
        raise ToolError("Division by zero.") from None
    except (OverflowError, ValueError) as exc:
        raise ToolError(f"The result can't be computed: {exc}.") from None
    if isinstance(value, float) and abs(value) > MAX_MAGNITUDE:
        raise ToolError("The result is too large.")
    return value


def _eval(node):
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"Exponents above {MAX_EXPONENT} are not allowed.")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_eval(arg) for arg in node.args))
    raise ToolError("Only numbers, + - * / // % ** and sqrt, abs, round, min, max, log, exp.")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. "17 * 23" or "sqrt(2) / 3"."""
    value = evaluate(expression)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value)


@tool
def current_time(timezone: str = "UTC") -> str:
    """The current date and time in an IANA time zone such as "Europe/Paris" or "UTC"."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"Unknown time zone '{timezone}'; use a name like Europe/Paris.") from None
    now = datetime.now(zone)
    return f"{now:%A %Y-%m-%d %H:%M} ({timezone}, UTC{now:%z})"


@tool
async def search_past_messages(query: str, runtime: ToolRuntime[Context]) -> str:
    """Search what this person wrote in their earlier conversations, by keywords."""
    from agents import selectors

    hits = await selectors.search_user_messages(
        runtime.context.user_id, query, limit=SEARCH_RESULTS
    )
    if not hits:
        return "No earlier message matches."
    found = [f"{when:%Y-%m-%d} in '{title}': {text}" for when, title, text in hits]
    return prompts.data_block(
        "past_messages", "What this person wrote before, one per line.", found
    )


@tool
async def recall_memory(query: str, runtime: ToolRuntime[Context]) -> str:
    """Search what you know about this person from earlier conversations (facts about them,
    their preferences), by meaning, e.g. "where they live" or "diet"."""
    from agentsite.asyncdb import db_call
    from memory import selectors

    hits = await db_call(selectors.search)(runtime.context.user_id, query, limit=SEARCH_RESULTS)
    if not hits:
        return "Nothing remembered about that."
    facts = [hit["memory"] for hit in hits]
    return prompts.data_block("memories", "What you know about this person, one per line.", facts)


TOOLS = [calculator, current_time, search_past_messages, recall_memory]
