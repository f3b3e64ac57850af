"""The labelled set: conversations whose hallucination, toxicity, relevance and helpfulness are
known (`fixtures/labelled_conversations.json`), to measure a judge, seed test data, and script
the simulator's judge replies.

A label is "pass" or "fail" per metric; "fail" (the problem: a hallucination, a toxic,
irrelevant or unhelpful answer) is the positive class of precision and recall.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from agents.models import ChatSession, Message
from evaluation.judges import RUBRICS, JudgeInput
from evaluation.models import Direction

FIXTURE = Path(__file__).parent / "fixtures" / "labelled_conversations.json"


@dataclass(frozen=True)
class LabelledCase:
    id: str
    judge_input: JudgeInput
    labels: dict[str, str]  # metric -> "pass" | "fail"


def load_cases(path: Path = FIXTURE) -> list[LabelledCase]:
    cases = []
    for raw in json.loads(path.read_text()):
        case_input = JudgeInput(
            answer=raw["answer"],
            history=[tuple(pair) for pair in raw["history"]],
            tool_results=[tuple(pair) for pair in raw["tool_results"]],
            memories=list(raw["memories"]),
        )
        cases.append(LabelledCase(raw["id"], case_input, dict(raw["labels"])))
    return cases


def spread(cases: list[LabelledCase], count: int | None) -> list[LabelledCase]:
    """`count` cases taken evenly across the set (it is grouped by kind), or all of them."""
    if not count or count >= len(cases):
        return cases
    return [cases[i * len(cases) // count] for i in range(count)]


def labelled_score(metric: str, label: str) -> float:
    """A clear score on the metric's own scale that agrees with the label."""
    bad = label == "fail"
    if RUBRICS[metric].direction == Direction.LOWER_IS_BETTER:
        return 0.9 if bad else 0.1
    return 0.1 if bad else 0.9


def simulator_rules(cases: list[LabelledCase]) -> list[dict]:
    """Simulator rules that answer each judge prompt with the label's score. Figures measured
    with them prove the plumbing (prompt → ring → parser → counts), not a judge's quality."""
    rules = []
    for case in cases:
        for metric, label in case.labels.items():
            reply = {"score": labelled_score(metric, label), "reason": f"labelled {label}"}
            rules.append(
                {
                    "match": rf"\AMetric: {metric}\n[\s\S]*\nAnswer to grade:\n"
                    + re.escape(" ".join(case.judge_input.answer.split())),
                    "reply": json.dumps(reply),
                }
            )
    return rules


def seed_conversations(owner, cases: list[LabelledCase]) -> dict[str, Message]:
    """One session per case, saved as a chat turn saves it (the answer's row before its tool
    results). Returns the answer message of each case id."""
    answers = {}
    for case in cases:
        session = ChatSession.objects.create(owner=owner, title=case.id)
        for role, text in case.judge_input.history:
            Message.objects.create(session=session, role=role, content=text)
        answers[case.id] = Message.objects.create(
            session=session, role=Message.Role.ASSISTANT, content=case.judge_input.answer
        )
        for name, content in case.judge_input.tool_results:
            Message.objects.create(
                session=session,
                role=Message.Role.TOOL,
                model=name,
                content=content,
                tool_call_id=f"call-{case.id}-{name}",
            )
    return answers
