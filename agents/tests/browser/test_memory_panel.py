"""The memory panel in a real browser: the person sees what the agent remembers and deletes
one memory or all of them. Needs the memory app (issue 5)."""

import pytest
from playwright.sync_api import expect

from agents.tests.browser.helpers import PASSWORD, log_in, screenshot
from memory import services
from memory.models import Memory
from memory.tests.conftest import _empty_memory_tables, extraction, say  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FACTS = ("User lives in Paris", "User is vegetarian", "User has a cat named <b>Miso</b>")


@pytest.fixture
def remembered(llm_sim, settings, make_user):
    """Ada with three memories (one with markup in it), learnt through Mem0 as a turn would."""
    settings.LLM_BASE_URL = llm_sim.base_url  # extraction runs here, in the test's process
    ada = make_user(email="ada@example.com")
    llm_sim.set_rules([extraction("about me", *FACTS)])
    services.remember_message(say(ada, "Some facts about me").pk)
    assert Memory.objects.owned_by(ada.pk).count() == 3
    return ada


def test_see_and_delete_memories(page, remembered):
    log_in(page, "ada@example.com")
    toggle = page.get_by_role("button", name="Memories", exact=True)
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    panel = page.get_by_role("complementary", name="What the agent remembers")
    items = panel.locator(".memory-text")
    items.nth(2).wait_for()
    assert sorted(items.all_inner_texts()) == sorted(FACTS)
    assert panel.locator("b").count() == 0  # markup shown as text
    screenshot(page, "memory-panel.png")

    panel.get_by_role("button", name="Delete memory: User is vegetarian").click()
    panel.get_by_text("Memory deleted.").wait_for()
    assert sorted(items.all_inner_texts()) == sorted(set(FACTS) - {"User is vegetarian"})
    assert Memory.objects.owned_by(remembered.pk).count() == 2

    panel.get_by_label("Search memories").fill("my pet")
    panel.get_by_role("button", name="Search").click()
    page.wait_for_function(
        "() => document.querySelector('#memory-list .memory-text')?.textContent.includes('Miso')"
    )

    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Forget everything").click()
    panel.get_by_text("Everything forgotten.").wait_for()
    assert items.count() == 0
    assert not Memory.objects.owned_by(remembered.pk).exists()

    page.keyboard.press("Escape")
    assert not panel.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"


def test_staff_see_memories_in_the_admin(page, remembered, make_user):
    make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    page.goto("/admin/login/")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/memory/memory/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    assert "User lives in Paris" in page.locator("#result_list").inner_text()
    assert page.locator("#result_list b").count() == 0  # markup escaped
