"""The agent graphs' own parts: the calculator's sandbox, how the graphs are wired, tool
failures turned into messages to the model, and the typed context reaching the tools."""

import asyncio

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from agents import services
from agents.graph.context import Context
from agents.graph.general import graph as general
from agents.graph.general.tools import TOOLS, ToolError, evaluate
from agents.graph.graph import NEXT_STEP, OPEN_TURN, SUPERVISOR, build_graph
from agents.graph.react import CALL_MODEL, RUN_TOOLS
from agents.models import Message


class TestCalculator:
    @pytest.mark.parametrize(
        ("expression", "value"),
        [
            ("17*23", 391),
            ("2^10", 1024),
            ("7 \u00d7 6", 42),
            ("sqrt(16) + abs(-2)", 6.0),
            ("-(3 - 5) * 2", 4),
            ("10 // 3 + 10 % 3", 4),
            ("round(pi, 2)", 3.14),
        ],
    )
    def test_arithmetic(self, expression, value):
        assert evaluate(expression) == value

    @pytest.mark.parametrize(
        ("expression", "complaint"),
        [
            ("__import__('os').system('id')", "Only numbers"),
            ("open('/etc/passwd')", "Only numbers"),
            ("(1).__class__", "Only numbers"),
            ("[1, 2]", "Only numbers"),
            ("sqrt(x=4)", "Only numbers"),
            ("'a' * 3", "Only numbers"),
            ("2 ** 5000", "Exponents above"),
            ("1 / 0", "Division by zero"),
            ("10.0 ** 300 * 10.0 ** 300", "too large"),
            ("10.0 ** 400", "can't be computed"),
            ("9" * 201, "longer than"),
            ("1 +", "not an arithmetic expression"),
            ("exp(1000)", "can't be computed"),
        ],
    )
    def test_anything_else_is_refused_in_words(self, expression, complaint):
        with pytest.raises(ToolError, match=complaint):
            evaluate(expression)


class TestWiring:
    def test_an_agent_loops_model_tools_model_until_it_answers(self):
        graph = general.build_graph().get_graph()
        edges = {(edge.source, edge.target) for edge in graph.edges}
        assert {
            ("__start__", CALL_MODEL),
            (CALL_MODEL, RUN_TOOLS),
            (RUN_TOOLS, CALL_MODEL),
        } <= edges
        assert (CALL_MODEL, "__end__") in edges

    def test_the_team_routes_to_every_specialist_and_back_to_the_plan(self):
        graph = build_graph().get_graph()
        edges = {(edge.source, edge.target) for edge in graph.edges}
        specialists = {"general", "researcher", "planner"}
        assert ("__start__", OPEN_TURN) in edges
        assert {(OPEN_TURN, SUPERVISOR)} | {(OPEN_TURN, name) for name in specialists} <= edges
        assert {(SUPERVISOR, name) for name in specialists} <= edges
        assert {(name, NEXT_STEP) for name in specialists} <= edges
        assert {(NEXT_STEP, "general"), (NEXT_STEP, "researcher"), (NEXT_STEP, "__end__")} <= edges


def run_tools(*calls, user_id="nobody") -> list[ToolMessage]:
    """The general assistant's tools node alone, on one model message asking for `calls`."""
    node = general.build_graph().nodes[RUN_TOOLS].bound
    asked = AIMessage(
        "",
        tool_calls=[
            {"id": f"call-{n}", "name": name, "args": args} for n, (name, args) in enumerate(calls)
        ],
    )
    from langgraph.runtime import Runtime

    config = {"configurable": {"__pregel_runtime": Runtime(context=Context(user_id=user_id))}}
    return asyncio.run(node.ainvoke({"messages": [asked]}, config))["messages"]


class TestToolFailures:
    def test_a_tool_error_is_told_to_the_model(self):
        (result,) = run_tools(("calculator", {"expression": "1/0"}))
        assert result.content == "Error: Division by zero."

    def test_an_unknown_zone_is_told_to_the_model(self):
        (result,) = run_tools(("current_time", {"timezone": "Mars/Olympus"}))
        assert result.content.startswith("Error: Unknown time zone 'Mars/Olympus'")

    def test_bad_arguments_are_told_to_the_model(self):
        (result,) = run_tools(("calculator", {"formula": "1+1"}))
        assert result.content.startswith("Error:")
        assert result.status == "error"

    def test_several_calls_each_get_their_result(self):
        results = run_tools(
            ("calculator", {"expression": "2+2"}), ("calculator", {"expression": "nope"})
        )
        assert [r.tool_call_id for r in results] == ["call-0", "call-1"]
        assert results[0].content == "4"
        assert results[1].content.startswith("Error:")

    def test_an_unexpected_failure_is_hidden_from_the_model(self, monkeypatch):
        from agents.graph.general import tools

        def broken(*_, **__):
            raise RuntimeError("secret internals")

        monkeypatch.setattr(tools, "evaluate", broken)
        (result,) = run_tools(("calculator", {"expression": "1+1"}))
        assert result.content == "Error: the tool failed unexpectedly; answer without it."
        assert "secret" not in result.content


@pytest.mark.django_db(transaction=True)
class TestContext:
    def test_past_messages_come_from_the_context_person_only(self, make_user):
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
        for owner, text in ((ada, "my boat is called Petrel"), (bob, "my boat is called Osprey")):
            session = services.create_session(owner=owner, title="boats")
            Message.objects.create(session=session, role="user", content=text)
        (result,) = run_tools(("search_past_messages", {"query": "boat"}), user_id=str(ada.pk))
        assert "Petrel" in result.content
        assert "Osprey" not in result.content

    def test_past_messages_are_found_by_any_word_and_its_stem(self, make_user):
        """A model words its query its own way: "parking location" must find "I parked"."""
        ada = make_user("ada@example.com")
        session = services.create_session(owner=ada, title="car")
        for text in ("I parked on level 3, spot B12.", "The weather is nice."):
            Message.objects.create(session=session, role="user", content=text)
        query = {"query": "parking location"}
        (result,) = run_tools(("search_past_messages", query), user_id=str(ada.pk))
        assert "spot B12" in result.content
        assert "weather" not in result.content
        (result,) = run_tools(("search_past_messages", {"query": "the"}), user_id=str(ada.pk))
        assert result.content == "No earlier message matches."

    def test_the_model_cannot_name_another_person(self, make_user):
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
        session = services.create_session(owner=bob)
        Message.objects.create(session=session, role="user", content="bob's secret boat")
        (result,) = run_tools(
            ("search_past_messages", {"query": "boat", "user_id": str(bob.pk)}),
            user_id=str(ada.pk),
        )
        assert "secret" not in result.content

    def test_every_tool_hides_the_runtime_from_the_model(self):
        for tool in TOOLS:
            assert "runtime" not in tool.tool_call_schema.model_json_schema()["properties"]


class TestPlan:
    def test_the_documents_are_read_before_anything_is_done_with_them(self):
        from agents.graph.planner.tools import make_plan

        steps = [
            {"agent": "general", "task": "Multiply the rent by 12"},
            {"agent": "researcher", "task": "Find  the rent\n in the lease"},
        ]
        call = {"name": "make_plan", "args": {"steps": steps}, "id": "c1", "type": "tool_call"}
        command = make_plan.invoke(call)
        assert command.update["plan"] == [
            {"agent": "researcher", "task": "Find the rent in the lease"},
            {"agent": "general", "task": "Multiply the rent by 12"},
        ]
        (message,) = command.update["messages"]
        assert message.content.splitlines()[1:] == [
            "1. researcher: Find the rent in the lease",
            "2. general: Multiply the rent by 12",
        ]
