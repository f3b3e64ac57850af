"""The staff dashboard: today's figures from the selectors, staff only, linked from the index."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from agents import services
from agents.models import Message
from agents.selectors import usage_since
from agentsite.dashboard import start_of_today
from evaluation.models import EvaluationScore

pytestmark = pytest.mark.django_db


@pytest.fixture
def today_and_yesterday(user, make_llm_call):
    session = services.create_session(owner=user)
    for status in ("complete", "complete", "interrupted", "failed"):
        Message.objects.create(session=session, role="assistant", status=status)
    Message.objects.create(session=session, role="user", content="not a turn")
    plain, switched = uuid.uuid4(), uuid.uuid4()
    make_llm_call(
        ring_request_id=plain, prompt_tokens=100, completion_tokens=20, cost_usd=Decimal("0.0045")
    )
    make_llm_call(ring_request_id=switched, status="error", error_reason="server_error")
    make_llm_call(
        ring_request_id=switched,
        model="gpt-4o-mini",
        attempt=2,
        fallback_from="gpt-4o",
        prompt_tokens=100,
        completion_tokens=30,
        cost_usd=Decimal("0.0003"),
    )
    make_llm_call(created_at=start_of_today() - timedelta(seconds=1), prompt_tokens=999)


def test_usage_figures_count_only_today(today_and_yesterday):
    usage = usage_since(start_of_today())
    assert (usage.turns, usage.turns_complete, usage.turns_interrupted, usage.turns_failed) == (
        4,
        2,
        1,
        1,
    )
    assert (usage.llm_calls, usage.llm_errors) == (3, 1)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.tokens) == (200, 50, 250)
    assert usage.cost_usd == Decimal("0.0048")
    assert (usage.ring_requests, usage.ring_requests_with_fallback) == (2, 1)
    assert usage.fallback_rate == 0.5


def test_nothing_yet_today():
    usage = usage_since(start_of_today())
    assert (usage.turns, usage.tokens, usage.cost_usd, usage.fallback_rate) == (0, 0, 0, None)


def test_dashboard_page_shows_the_figures(staff_client, today_and_yesterday):
    page = staff_client.get("/admin/dashboard/")
    assert page.status_code == 200
    assert page.context["usage"].turns == 4
    html = page.content.decode()
    assert "$0.004800" in html
    assert "50%" in html
    assert "1 of 2 model requests" in html


def score(answer, metric, passed, **fields):
    verdict = {"status": "ok", "score": 1.0 if passed else 0.0, "passed": passed}
    if passed is None:
        verdict = {"status": "error", "score": None, "passed": None}
    return EvaluationScore.objects.create(
        message=answer,
        metric=metric,
        rubric_version=1,
        judge_model="judge",
        direction="higher_is_better",
        threshold=0.5,
        **verdict,
        **fields,
    )


def test_evaluation_pass_rates_of_today_per_metric(staff_client, user):
    session = services.create_session(owner=user)
    answers = [Message.objects.create(session=session, role="assistant") for _ in range(4)]
    for answer, passed in zip(answers, (True, True, True, False), strict=True):
        score(answer, "relevance", passed)
    score(answers[0], "toxicity", True)
    score(answers[1], "toxicity", None)  # a judge error is not a verdict
    old = score(answers[2], "toxicity", False)
    EvaluationScore.objects.filter(pk=old.pk).update(
        created_at=start_of_today() - timedelta(seconds=1)
    )
    page = staff_client.get("/admin/dashboard/")
    assert page.context["pass_rates"] == [
        {"metric": "relevance", "rate": 0.75, "graded": 4},
        {"metric": "toxicity", "rate": 1.0, "graded": 1},
    ]
    assert "<td>75%</td>" in page.content.decode()


def test_staff_only_and_linked_from_the_index(staff_client, make_user):
    person = Client()
    person.force_login(make_user(email="person@example.com"))
    assert person.get("/admin/dashboard/").status_code == 302  # to the admin's login
    index = staff_client.get("/admin/")
    assert b'href="/admin/dashboard/"' in index.content
