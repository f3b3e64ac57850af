"""The team in the chat page: the agent picker, each answer's badge, a note at each handoff,
and the researcher's citations as expandable quotes (also from the history)."""

import pytest

from agents.models import ChatSession
from agents.tests.browser.helpers import (
    last_answer,
    log_in,
    screenshot,
    send,
    wait_until_answered,
    wait_until_ready,
)
from devtools.testing import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LEASE = "The notice period of this lease is three months. The rent is 950 euros a month."


@pytest.fixture
def ada(make_user, indexed):
    """Ada, logged out, with one ready document."""
    ada = make_user(email="ada@example.com")
    indexed(ada, LEASE, name="lease.txt")
    return ada


def test_pick_the_researcher_and_open_its_citation(page, ada):
    log_in(page, "ada@example.com")
    picker = page.get_by_label("Agent", exact=True)
    assert picker.locator("option").all_inner_texts() == [
        "Auto",
        "General assistant",
        "Documents researcher",
        "Planner",
    ]
    assert picker.input_value() == "auto"
    picker.select_option("researcher")
    send(page, "What is the notice period of my lease?")
    wait_until_answered(page)

    answer = last_answer(page)
    assert answer.locator(".agent-badge").inner_text() == "Documents researcher"
    assert answer.locator(".handoff-note").all_inner_texts() == [
        "Documents researcher: The session's agent."
    ]
    citation = answer.locator(".citation")
    assert citation.locator("summary").inner_text() == "[1] lease.txt"
    assert not citation.locator("blockquote").is_visible()  # a quote opens on demand
    citation.locator("summary").click()
    assert citation.locator("blockquote").inner_text() == LEASE
    screenshot(page, "citations.png")
    session = ChatSession.objects.get(owner=ada)
    assert session.agent == "researcher"

    page.reload()  # the badge, the picker and the citation come back from the history
    wait_until_ready(page)
    assert picker.input_value() == "researcher"
    restored = last_answer(page)
    assert restored.locator(".agent-badge").inner_text() == "Documents researcher"
    assert restored.locator(".citation summary").inner_text() == "[1] lease.txt"


def test_changing_the_agent_of_a_chat_and_the_notes_of_a_plan(page, ada):
    log_in(page, "ada@example.com")
    send(page, "what is 6*7")
    wait_until_answered(page)
    first = last_answer(page)
    assert first.locator(".agent-badge").inner_text() == "General assistant"
    assert first.locator(".handoff-note").all_inner_texts() == [
        "General assistant: The supervisor chose the general assistant."
    ]

    send(page, "Look up the rent in my documents, then compute it for a year: 950*12")
    wait_until_answered(page)
    plan = last_answer(page)
    assert plan.locator(".handoff-note").all_inner_texts() == [
        "Planner: The supervisor chose the planner.",
        "Planner → Documents researcher: Step 1 of 2 of the plan, for you: Find what the "
        "documents say. Do only this step, then stop.",
        "Documents researcher → General assistant: Step 2 of 2 of the plan, for you: Compute "
        "with what was found. Do only this step, then stop.",
    ]
    assert plan.locator(".agent-badge").inner_text() == "General assistant"
    assert plan.locator(".citation").count() == 1
    assert "11400" in plan.locator(".content").inner_text()

    page.get_by_label("Agent", exact=True).select_option("general")
    page.get_by_text("General assistant answers from now on.").wait_for()
    session = ChatSession.objects.get(owner=ada)
    wait_for(lambda: ChatSession.objects.get(pk=session.pk).agent == "general")
