"""`bench_agent`: the task set, its checkers on crafted transcripts, and a run end to end on the
LLM simulator (real uvicorn, worker and streams)."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from devtools.benchmarks import agent, agent_tasks
from devtools.benchmarks.agent_tasks import (
    KINDS,
    RAW_TOOL_CALL,
    AgentTask,
    Expectation,
    ExpectedCall,
    Session,
    Turn,
    TurnRecord,
    check_turn,
    markup_leaks,
    memory_lists,
)


@pytest.fixture(scope="module")
def tasks():
    return agent_tasks.load_tasks()


def record(answer="", calls=(), **fields) -> TurnRecord:
    tool_calls = [{"name": name, "arguments": arguments} for name, arguments in calls]
    fields = {
        "content": "q",
        "session": 1,
        "index": 0,
        "done": True,
        "agents": ["general"],
        **fields,
    }
    return TurnRecord(answer=answer, tool_calls=tool_calls, **fields)


def expect(**fields) -> Turn:
    return Turn("q", Expectation(**fields))


CALCULATOR = ExpectedCall("calculator")
TOKYO = ExpectedCall("current_time", {"timezone": "Asia/Tokyo"})
PARIS = ExpectedCall("current_time", {"timezone": "Europe/Paris"})


class TestTaskSet:
    def test_at_least_forty_tasks_and_every_kind(self, tasks):
        assert len(tasks) >= 40
        assert {task.kind for task in tasks} == set(KINDS)

    def test_multi_turn_and_multi_session_tasks(self, tasks):
        assert any(len(session.turns) >= 3 for task in tasks for session in task.sessions)
        assert any(len(task.sessions) > 1 for task in tasks)

    def test_every_task_checks_what_its_kind_is_about(self, tasks):
        for task in tasks:
            asked = [turn.expect for session in task.sessions for turn in session.turns]
            checked = [expectation for expectation in asked if expectation]
            if task.kind == "calculator":
                assert all(CALCULATOR in e.calls and e.contains for e in checked), task.id
            elif task.kind == "time_zone":
                assert all(e.calls[0].arguments["timezone"] for e in checked), task.id
            elif task.kind == "past_messages":
                assert len(task.sessions) == 2, task.id
                assert checked[-1].calls == (ExpectedCall("search_past_messages"),), task.id
            elif task.kind == "memory":
                assert len(task.sessions) == 2, task.id
                assert task.sessions[1].wait_for_memory, task.id
                assert checked[-1].contains, task.id
            elif task.kind == "chit_chat":
                assert all(e.no_tools for e in checked), task.id
            elif task.kind == "unknown_tool":
                assert all(e.refuses for e in checked), task.id
            elif task.kind == "documents":
                assert all(e.agent == "researcher" for e in checked), task.id
            elif task.kind == "plan":
                assert task.documents, task.id
                assert all(e.agent == "planner" and e.contains for e in checked), task.id
            else:
                assert all(len(e.calls) == 2 for e in checked), task.id

    @pytest.mark.parametrize(
        ("raw", "error"),
        [
            ({"kind": "calculator", "sessions": [], "extra": 1}, "unknown keys"),
            ({"kind": "weather", "sessions": []}, "unknown kind"),
            (
                {"kind": "calculator", "sessions": [{"turns": [{"content": "hi"}]}]},
                "no turn says what passes",
            ),
            (
                {"kind": "chit_chat", "sessions": [{"turns": [{"content": "hi", "expect": {}}]}]},
                "checks nothing",
            ),
            (
                {
                    "kind": "calculator",
                    "sessions": [
                        {"turns": [{"content": "x", "expect": {"calls": [{"name": "fly"}]}}]}
                    ],
                },
                "unknown tools",
            ),
            ({"kind": "calculator", "sessions": [{"turns": []}]}, "without turns"),
        ],
    )
    def test_malformed_tasks_are_refused(self, tmp_path, raw, error):
        path = tmp_path / "tasks.json"
        path.write_text(json.dumps([{"id": "bad", **raw}]))
        with pytest.raises(ValueError, match=error):
            agent_tasks.load_tasks(path)

    def test_repeated_ids_are_refused(self, tmp_path):
        task = {
            "id": "twice",
            "kind": "chit_chat",
            "sessions": [{"turns": [{"content": "hi", "expect": {"no_tools": True}}]}],
        }
        path = tmp_path / "tasks.json"
        path.write_text(json.dumps([task, task]))
        with pytest.raises(ValueError, match="twice"):
            agent_tasks.load_tasks(path)

    def test_a_short_run_takes_every_kind_first(self, tasks):
        chosen = agent_tasks.select(tasks, limit=len(KINDS))
        assert [task.kind for task in chosen] == list(KINDS)
        assert {t.kind for t in agent_tasks.select(tasks, ["memory", "time_zone"])} == {
            "memory",
            "time_zone",
        }
        with pytest.raises(ValueError, match="unknown kinds"):
            agent_tasks.select(tasks, ["weather"])


class TestCheckers:
    def test_the_right_number_after_the_calculator_passes(self):
        turn = expect(contains=("391",), calls=(CALCULATOR,))
        assert (
            check_turn(
                turn,
                record("17 \N{MULTIPLICATION SIGN} 23 = 391.", [("calculator", {"x": "17*23"})]),
            )
            == []
        )

    def test_a_thank_you_instead_of_the_number_fails(self):
        turn = expect(contains=("391",), calls=(CALCULATOR,))
        answer = record("Thank you for using the calculator tool.", [("calculator", {})])
        assert check_turn(turn, answer) == ["answer lacks '391'"]

    def test_the_number_without_the_calculator_fails(self):
        turn = expect(contains=("391",), calls=(CALCULATOR,))
        assert check_turn(turn, record("It is 391.")) == ["no call calculator()"]

    @pytest.mark.parametrize(
        ("answer", "found"),
        [("1,024", True), ("It is 1024.", True), ("10240", False), ("1024.5", False)],
    )
    def test_numbers_stand_alone(self, answer, found):
        failures = check_turn(expect(contains=("1024",)), record(answer))
        assert (failures == []) is found

    def test_a_whole_float_is_the_number(self):
        assert check_turn(expect(contains=("12",)), record("0.15 * 80 = 12.0")) == []

    def test_the_time_zone_must_be_the_asked_one(self):
        turn = expect(calls=(TOKYO,))
        assert (
            check_turn(turn, record("10:00", [("current_time", {"timezone": "Asia/Tokyo"})])) == []
        )
        wrong = check_turn(turn, record("10:00", [("current_time", {"timezone": "UTC"})]))
        assert wrong == ["no call current_time(timezone='Asia/Tokyo')"]

    def test_two_steps_need_two_calls(self):
        turn = expect(calls=(TOKYO, PARIS))
        one = record("...", [("current_time", {"timezone": "Asia/Tokyo"})])
        assert check_turn(turn, one) == ["no call current_time(timezone='Europe/Paris')"]
        both = record("...", [(c.name, c.arguments) for c in (PARIS, TOKYO)])
        assert check_turn(turn, both) == []
        twice = expect(calls=(CALCULATOR, CALCULATOR))
        assert check_turn(twice, record("117", [("calculator", {})])) == ["no call calculator()"]

    def test_chit_chat_calls_no_tool(self):
        turn = expect(no_tools=True)
        assert check_turn(turn, record("Hello!")) == []
        called = check_turn(turn, record("Hello!", [("current_time", {})]))
        assert called == ["called tools ['current_time'] where none was needed"]

    def test_an_unknown_tool_is_refused_in_words(self):
        turn = expect(refuses=True)
        assert (
            check_turn(turn, record("Sorry, I can\N{RIGHT SINGLE QUOTATION MARK}t book flights."))
            == []
        )
        assert check_turn(turn, record("Done, your flight is booked!")) == ["does not say it can't"]
        invented = check_turn(turn, record("I cannot.", [("book_flight", {"to": "Paris"})]))
        assert invented == ["called unknown tools ['book_flight']"]

    def test_the_protocol_must_end_well(self):
        seed = Turn("hello")
        assert check_turn(seed, record("Hi!")) == []
        assert check_turn(seed, record("")) == ["empty answer"]
        cut = TurnRecord("q", 1, 0, answer="Hi")
        assert check_turn(seed, cut) == ["the stream ended without done"]
        failed = record("", errors=[{"code": "llm_unavailable", "detail": "no model"}])
        assert check_turn(seed, failed) == [
            "error event llm_unavailable: no model",
            "empty answer",
        ]

    def test_markup_leaks_are_counted(self):
        observed = "<tool_response>\n20:10 (UTC)\n</tool_response>"
        assert markup_leaks(observed) == {"<tool_response>": 1, "</tool_response>": 1}
        raw_call = 'Sure: {"name": "current_time", "arguments": {"timezone": "Asia/Tokyo"}}'
        assert markup_leaks(raw_call) == {RAW_TOOL_CALL: 1}
        assert markup_leaks('{"arguments": {"x": 1}, "name": "calculator"}') == {RAW_TOOL_CALL: 1}
        assert markup_leaks("<|im_start|>assistant\nHi<|im_end|>") == {
            "<|im_start|>": 1,
            "<|im_end|>": 1,
        }
        assert markup_leaks('The JSON is {"name": "Ada"} and 2 < 3.') == {}
        leaking = check_turn(Turn("hi"), record("<tool_call>x</tool_call>"))
        assert leaking == ["markup leak '<tool_call>' x1", "markup leak '</tool_call>' x1"]

    def test_memory_must_mention_every_word(self):
        memories = ["Name is Ada", "Loves sailing"]
        assert memory_lists(memories, ("sailing", "ada"))
        assert not memory_lists(memories, ("sailing", "Lisbon"))
        assert not memory_lists([], ("sailing",))


class TestSummary:
    def test_pass_rates_ttft_by_turn_decode_and_leaks(self):
        chat = AgentTask("chat", "chit_chat", (Session((Turn("a"), Turn("b"), Turn("c"))),))
        sums = AgentTask("sums", "calculator", (Session((Turn("a"),)),))
        chatted = [
            record("Hi", ttft=1.0, completion_tokens=20, decode_seconds=2.0, index=0),
            record("<|im_end|>", ttft=3.0, completion_tokens=10, decode_seconds=1.0, index=1),
            record("Bye", ttft=5.0, index=3),
        ]
        summed = [
            record("391", [("calculator", {})], ttft=7.0, completion_tokens=99, decode_seconds=1.0)
        ]
        results = [
            agent.TaskResult(chat, chatted, ["leak"], memory_seconds=[20.0, 70.0]),
            agent.TaskResult(sums, summed, [], title_seconds=[4.0, None]),
        ]
        summary = agent.summarize(results)
        assert summary["pass_rate"] == 0.5
        assert summary["by_kind"]["calculator"] == {"tasks": 1, "passed": 1, "pass_rate": 1.0}
        assert summary["by_kind"]["chit_chat"]["passed"] == 0
        assert summary["ttft_by_turn"]["1st"] == {"turns": 2, "p50_s": 4.0, "p95_s": 7.0}
        assert summary["ttft_by_turn"]["3rd+"]["turns"] == 1
        assert summary["decode"] == {"turns": 2, "tokens_per_s": 10.0}  # no tool turns
        assert summary["leaks"]["total"] == 1
        assert summary["leaks"]["answers_with_leaks"] == 1
        assert summary["memory"] == {
            "count": 2,
            "missing": 0,
            "p50_s": 45.0,
            "p95_s": 70.0,
            "within_target": 1,
            "target_s": agent.MEMORY_TARGET_S,
        }
        assert (summary["title"]["count"], summary["title"]["missing"]) == (2, 1)
        assert (summary["title"]["p50_s"], summary["title"]["within_target"]) == (4.0, 1)


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_end_to_end_on_the_simulator(simulator, tmp_path):
    """Three tasks through uvicorn, a worker and real streams, the simulator's tool rules as the
    model: the plumbing from task file to report."""
    simulator.reset()
    report_path = tmp_path / "agent.json"
    out = StringIO()
    call_command(
        "bench_agent",
        "--llm-base-url",
        simulator.base_url,
        "--llm-models",
        "sim-primary",
        "--kinds",
        "calculator,time_zone,two_step",
        "--limit",
        "3",
        "--report",
        str(report_path),
        stdout=out,
    )
    report = json.loads(report_path.read_text())
    summary = report["summary"]
    assert [task["id"] for task in report["tasks"]] == [
        "calc-multiply",
        "time-tokyo",
        "two-time-tokyo-paris",
    ]
    assert (summary["tasks"], summary["passed"]) == (3, 3), report["tasks"]
    assert summary["leaks"]["total"] == 0
    assert summary["ttft_by_turn"]["1st"]["turns"] == 3
    calls = [
        call for task in report["tasks"] for turn in task["turns"] for call in turn["tool_calls"]
    ]
    assert {"name": "current_time", "arguments": {"timezone": "Europe/Paris"}} in calls
    assert re.search(r"^overall\s+3\s+3\s+100%$", out.getvalue(), re.MULTILINE)
    assert "markup leaks: 0 in 0 of 3 answers (target 0)" in out.getvalue()
    # The worker titled each new session (the simulator answers at once).
    assert (summary["title"]["count"], summary["title"]["missing"]) == (3, 0)
    assert [len(task["title_seconds"]) for task in report["tasks"]] == [1, 1, 1]
    assert "title after a session's first answer: p50" in out.getvalue()
