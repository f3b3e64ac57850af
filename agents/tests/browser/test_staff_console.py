"""The staff console in a real browser: sessions with their messages, LLM calls, the dashboard."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from agents import services
from agents.models import LLMCall, Message
from agents.tests.browser.helpers import PASSWORD, screenshot
from evaluation.models import EvaluationScore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def conversation(make_user):
    owner = make_user(email="ada@example.com")
    session = services.create_session(owner=owner, title="Trip to Rome")
    Message.objects.create(session=session, role="user", content="what is 2+3*4 <b>now</b>")
    answer = Message.objects.create(
        session=session,
        role="assistant",
        content="The result is 14.",
        model="gpt-4o-mini",
        tool_calls=[{"id": "call_1", "name": "calculator", "arguments": {"expression": "2+3*4"}}],
        prompt_tokens=120,
        completion_tokens=6,
    )
    Message.objects.create(session=session, role="tool", content="14", model="calculator")
    for metric, passed in (("helpfulness", True), ("hallucination", False), ("relevance", True)):
        EvaluationScore.objects.create(
            message=answer,
            metric=metric,
            rubric_version=1,
            judge_model="gpt-4o-mini",
            direction="higher_is_better",
            status="ok",
            score=0.9 if passed else 0.2,
            threshold=0.5,
            passed=passed,
            reason="simulated",
        )
    request = uuid.uuid4()
    common = {"created_at": datetime.now(UTC), "endpoint": "https://api.openai.com/v1"}
    LLMCall.objects.create(
        **common,
        model="gpt-4o",
        attempt=1,
        status="error",
        error_reason="rate_limited",
        latency_ms=40,
        ring_request_id=request,
        user=owner,
        session_id=session.pk,
    )
    LLMCall.objects.create(
        **common,
        model="gpt-4o-mini",
        attempt=2,
        fallback_from="gpt-4o",
        status="ok",
        latency_ms=640,
        ttft_ms=210,
        prompt_tokens=120,
        completion_tokens=6,
        cost_usd=Decimal("0.000022"),
        ring_request_id=request,
        user=owner,
        session_id=session.pk,
    )
    return session


def test_staff_console(page, make_user, conversation):
    make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    page.goto("/admin/login/")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Today at a glance").click()

    assert page.locator("#figure-turns dd").first.inner_text() == "1"
    assert page.locator("#figure-tokens dd").first.inner_text() == "126"
    assert page.locator("#figure-fallback dd").first.inner_text() == "100%"
    rates = page.locator("#pass-rates tbody tr")
    assert rates.all_inner_texts() == [
        "hallucination\t1\t0%",
        "helpfulness\t1\t100%",
        "relevance\t1\t100%",
    ]
    screenshot(page, "admin-dashboard.png")

    page.goto("/admin/agents/llmcall/")
    filters = page.locator("#changelist-filter").inner_text()
    for title in ("By model", "By status", "By fallback"):
        assert title in filters
    page.get_by_role("link", name="answered after a fallback").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#changelist-filter").get_by_role("link", name="Error", exact=True).click()
    expect(page.locator("p.paginator")).to_have_text("0 LLM calls")

    page.goto("/admin/evaluation/evaluationscore/")
    page.locator("#changelist-filter").get_by_role("link", name="hallucination").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.goto("/admin/agents/chatsession/")
    page.get_by_role("link", name="Trip to Rome").click()
    inline = page.locator(".inline-group")
    assert "what is 2+3*4 <b>now</b>" in inline.inner_text()  # escaped, shown as typed
    assert inline.locator("b").count() == 0
    assert inline.locator("input:not([type=hidden]), textarea, select").count() == 0  # read-only
    screenshot(page, "admin.png")
