"""Staff can list, filter and search LLM calls; nobody can edit them."""

import pytest

from agents.models import Message

pytestmark = pytest.mark.django_db


def test_list_filters_and_search(staff_client, make_llm_call):
    make_llm_call(request_id="req-one")
    make_llm_call(model="gpt-4o-mini", fallback_from="gpt-4o", attempt=4, request_id="req-two")
    page = staff_client.get("/admin/agents/llmcall/")
    assert page.status_code == 200
    assert b"gpt-4o-mini" in page.content
    fallbacks = staff_client.get("/admin/agents/llmcall/?fallback=yes")
    assert fallbacks.context["cl"].result_count == 1
    found = staff_client.get("/admin/agents/llmcall/?q=req-one")
    assert found.context["cl"].result_count == 1


def test_calls_are_read_only(staff_client, make_llm_call):
    call = make_llm_call()
    assert staff_client.get("/admin/agents/llmcall/add/").status_code == 403
    response = staff_client.post(f"/admin/agents/llmcall/{call.pk}/change/", {"model": "x"})
    assert response.status_code == 403


def test_users_admin_search_and_filter(staff_client, make_user):
    make_user(email="grace@example.com", display_name="Grace")
    found = staff_client.get("/admin/accounts/user/?q=grace")
    assert found.context["cl"].result_count == 1
    staff_only = staff_client.get("/admin/accounts/user/?is_staff__exact=1")
    assert staff_only.context["cl"].result_count == 1


def test_sessions_show_their_messages_read_only(staff_client, make_user):
    from agents import services

    owner = make_user(email="owner@example.com")
    session = services.create_session(owner=owner, title="Trip")
    Message.objects.create(session=session, role="user", content="plan <b>Rome</b>")
    page = staff_client.get(f"/admin/agents/chatsession/{session.pk}/change/")
    assert page.status_code == 200
    assert b"plan &lt;b&gt;Rome&lt;/b&gt;" in page.content  # escaped, never rendered
    listing = staff_client.get("/admin/agents/chatsession/?q=owner@example.com")
    assert listing.context["cl"].result_count == 1
    messages = staff_client.get("/admin/agents/message/?role__exact=user")
    assert messages.context["cl"].result_count == 1


def test_a_sessions_messages_show_their_agent_and_the_turns_handoffs(staff_client, make_user):
    from agents import services

    session = services.create_session(owner=make_user(email="ada@example.com"), agent="auto")
    handoffs = [
        {"name": "planner", "from": None, "reason": "The supervisor chose the planner."},
        {"name": "researcher", "from": "planner", "reason": "Step 1 of 2 <b>now</b>"},
    ]
    Message.objects.create(
        session=session, role="assistant", content="Done.", agent="researcher", handoffs=handoffs
    )
    page = staff_client.get(f"/admin/agents/chatsession/{session.pk}/change/")
    html = page.content.decode()
    assert "start &rarr; <b>planner</b>: The supervisor chose the planner." in html
    assert "planner &rarr; <b>researcher</b>: Step 1 of 2 &lt;b&gt;now&lt;/b&gt;" in html
    by_agent = staff_client.get("/admin/agents/message/?agent=researcher")
    assert by_agent.context["cl"].result_count == 1
