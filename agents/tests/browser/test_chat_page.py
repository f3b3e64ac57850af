"""The chat as a person uses it, in a real browser: sign up, stream, tools, stop, history."""

import pytest
from django.core.cache import cache

from agents.models import ChatSession, Message
from agents.tests.browser.helpers import (
    PASSWORD,
    last_answer,
    log_in,
    screenshot,
    send,
    wait_until_answered,
    wait_until_ready,
)
from devtools.llmservers.simulator import echo_reply
from devtools.testing import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER_LENGTH = "() => document.querySelector('.message.assistant:last-of-type .content')?.textContent.length ?? 0"  # noqa: E501


def sampled_lengths(page) -> list[int]:
    """The answer's length each time it changed, until the stream ended."""
    lengths = [page.evaluate(ANSWER_LENGTH)]
    while page.locator(".message.assistant.streaming").count():
        page.wait_for_function(
            f"(seen) => ({ANSWER_LENGTH})() !== seen"
            " || !document.querySelector('.message.assistant.streaming')",
            arg=lengths[-1],
        )
        lengths.append(page.evaluate(ANSWER_LENGTH))
    return lengths


def test_sign_up_and_see_the_answer_stream_in(page):
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("Ada@Example.com")
    page.get_by_label("Name (optional)").fill("Ada")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/chat")
    wait_until_ready(page)

    send(page, "hello there")
    lengths = sampled_lengths(page)

    expected = echo_reply("hello there", 40)
    assert last_answer(page).locator(".content").inner_text() == expected
    assert lengths == sorted(lengths)
    assert len(set(lengths)) >= 4, lengths  # it grew piece by piece, not all at once
    assert lengths[1] < len(expected)
    assert last_answer(page).locator(".message-meta").inner_text() == "Answered by sim-primary"
    session = ChatSession.objects.get(owner__email="ada@example.com")
    assert page.locator(".session-link").count() == 1

    page.reload()
    wait_until_ready(page)
    assert f"session={session.pk}" in page.url
    assert page.locator(".message.user .content").inner_text() == "hello there"
    assert last_answer(page).locator(".content").inner_text() == expected


def test_tool_call_is_a_compact_expandable_step(page, make_user):
    make_user(email="ada@example.com")
    log_in(page, "ada@example.com")
    send(page, "what is 2+3*4")
    wait_until_answered(page)

    step = last_answer(page).locator(".tool-step")
    assert step.count() == 1
    assert step.locator(".tool-name").inner_text() == "calculator"
    assert step.locator(".tool-arguments").inner_text() == "2+3*4"
    assert step.locator(".tool-state").inner_text() == "→ 14"
    assert not step.locator(".tool-result").is_visible()  # compact until opened
    step.locator("summary").click()
    assert step.locator(".tool-result").inner_text() == "14"
    assert last_answer(page).locator(".content").inner_text() == "The result is 14."

    send(page, "markdown please")
    wait_until_answered(page)
    answer = last_answer(page).locator(".content")
    assert answer.locator("strong").inner_text() == "bold"
    assert answer.locator("li").all_inner_texts() == ["one", "two"]
    assert answer.locator("pre code").inner_text() == "print('hi')"
    link = answer.locator("a")
    assert link.get_attribute("href") == "https://example.com/docs"
    assert "noopener" in link.get_attribute("rel")
    screenshot(page, "chat.png")

    page.reload()  # steps come back from the history too
    wait_until_ready(page)
    restored = page.locator(".message.assistant").first.locator(".tool-step")
    assert restored.locator(".tool-state").inner_text() == "→ 14"


def test_stop_keeps_the_partial_answer_as_interrupted(page, make_user, llm_sim):
    make_user(email="ada@example.com")
    log_in(page, "ada@example.com")
    send(page, "tell me a long story")
    page.wait_for_function(f"() => ({ANSWER_LENGTH})() > 40")
    page.get_by_role("button", name="Stop").click()
    wait_until_answered(page)

    answer = last_answer(page)
    assert "Stopped" in answer.locator(".status-note").inner_text()
    assert page.get_by_role("button", name="Send").is_visible()
    shown = answer.locator(".content").inner_text()
    stored = Message.objects.filter(role="assistant")
    assert wait_for(lambda: stored.get().latency_ms is not None)  # the turn's final save
    assert stored.get().status == "interrupted"
    assert wait_for(lambda: llm_sim.stats()["active"] == 0)  # generation stopped too
    saved = stored.get().content
    assert saved.startswith(shown.rstrip("…▍ "))
    assert len(saved) < len(" ".join(f"word{n}" for n in range(400)))

    page.reload()
    wait_until_ready(page)
    assert last_answer(page).locator(".content").inner_text() == saved
    assert "cut short" in last_answer(page).locator(".status-note").inner_text()


def test_failures_are_explained_and_can_be_retried(page, make_user, llm_sim):
    user = make_user(email="ada@example.com")
    log_in(page, "ada@example.com")
    llm_sim.set_faults("*", {"kind": "status_500"})
    send(page, "hello there")
    alert = last_answer(page).get_by_role("alert")
    assert "unavailable right now" in alert.inner_text()

    llm_sim.clear_faults()
    cache.clear()  # the models are back: forget their open circuit breakers (same Redis)
    alert.get_by_role("button", name="Retry").click()
    page.locator(".message.assistant").nth(1).wait_for()
    wait_until_answered(page)
    assert last_answer(page).locator(".content").inner_text() == echo_reply("hello there", 40)

    llm_sim.set_faults("sim-primary", {"kind": "status_500"})
    send(page, "again please")
    wait_until_answered(page)
    note = last_answer(page).locator(".fallback-note").inner_text()
    assert note == "Switched from sim-primary to sim-fallback (server error)."
    assert last_answer(page).locator(".message-meta").inner_text() == "Answered by sim-fallback"

    user.daily_token_quota = 1  # refused before the stream starts: a problem+json 429
    user.save()
    send(page, "one more")
    alert = last_answer(page).get_by_role("alert")
    assert "used today's allowance" in alert.inner_text()
    user.daily_token_quota = None
    user.save()
    alert.get_by_role("button", name="Retry").click()  # the refused message is sent anew
    wait_until_answered(page)
    assert page.locator(".message.user").last.inner_text().endswith("one more")
    assert page.get_by_text("one more", exact=True).count() == 1
    assert last_answer(page).locator(".content").inner_text() == echo_reply("one more", 40)


def test_hostile_text_is_shown_never_run(page, make_user):
    make_user(email="ada@example.com")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, "ada@example.com")
    response = page.request.get("/chat")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    send(page, hostile)
    wait_until_answered(page)
    send(page, "give me a hostile answer")
    wait_until_answered(page)
    page.reload()  # and the same from the history
    wait_until_ready(page)

    messages = page.locator("#messages")
    assert page.locator(".message.user .content").first.inner_text() == hostile
    assert "<script>window.__pwned = 'script'</script>" in last_answer(page).inner_text()
    assert "[a harmless link](javascript:window.__pwned='link')" in last_answer(page).inner_text()
    assert last_answer(page).locator("strong").inner_text() == "bold"
    assert messages.locator("img, script, iframe, [onerror]").count() == 0
    assert messages.locator("a").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []


def test_sessions_by_keyboard_rename_and_delete(page, make_user):
    make_user(email="ada@example.com")
    log_in(page, "ada@example.com")
    composer = page.get_by_label("Your message")
    composer.focus()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    wait_until_answered(page)
    assert page.locator(".message.user .content").inner_text() == "first line\nsecond line"
    assert composer.input_value() == ""

    session = ChatSession.objects.get()
    page.get_by_role("button", name="Rename “New chat”").click()
    page.get_by_label("New name for this chat").fill("Trip to Rome")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Trip to Rome").wait_for()
    assert page.locator("#session-title").inner_text() == "Trip to Rome"
    assert wait_for(lambda: ChatSession.objects.get().title == "Trip to Rome")

    page.get_by_role("button", name="New chat").click()
    assert page.locator(".message").count() == 0
    page.get_by_role("link", name="Trip to Rome").click()
    page.locator(".message.user").wait_for()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete “Trip to Rome”").click()
    page.get_by_role("link", name="Trip to Rome").wait_for(state="detached")
    assert wait_for(lambda: not ChatSession.objects.filter(pk=session.pk).exists())
    assert page.locator(".message").count() == 0


def test_phone_width_and_dark_mode(new_page, make_user):
    make_user(email="ada@example.com")
    page = new_page(viewport={"width": 390, "height": 780}, color_scheme="dark")
    log_in(page, "ada@example.com")
    sidebar = page.get_by_role("navigation", name="Your chats")
    assert not sidebar.is_visible()
    send(page, "what is 6*7")
    wait_until_answered(page)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(21, 23, 28)"
    screenshot(page, "chat-phone-dark.png")

    toggle = page.get_by_role("button", name="Chats")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert sidebar.is_visible()
    page.keyboard.press("Escape")
    assert not sidebar.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    page.locator(".session-link").first.click()
    assert not sidebar.is_visible()


RENDER = """async (text) => {
    const { renderMarkdown } = await import('/static/js/markdown.js');
    const box = document.createElement('div');
    box.append(renderMarkdown(text));
    return box.innerHTML;
}"""
SAFE_RENDERINGS = [
    ("a **b** *c* `d`", "<p>a <strong>b</strong> <em>c</em> <code>d</code></p>"),
    ("snake_case_name and 2*3*4", "<p>snake_case_name and 2*3*4</p>"),
    ("line one\nline two\n\nnext", "<p>line one<br>line two</p><p>next</p>"),
    ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
    ("```js\nlet a = '<b>';", "<pre><code data-language=\"js\">let a = '&lt;b&gt;';</code></pre>"),
    ("## Title", "<h4>Title</h4>"),
    ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ("[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>"),
    (
        "see https://example.com/a_b.",
        '<p>see <a href="https://example.com/a_b" rel="noopener noreferrer nofollow"'
        ' target="_blank">https://example.com/a_b</a>.</p>',
    ),
    ('<a onclick="y()">z</a>', '<p>&lt;a onclick="y()"&gt;z&lt;/a&gt;</p>'),
    ("<img src=x onerror=y()>", "<p>&lt;img src=x onerror=y()&gt;</p>"),
]


def test_markdown_renderer_only_builds_safe_nodes(page):
    page.goto("/")
    rendered = [(markdown, page.evaluate(RENDER, markdown)) for markdown, _ in SAFE_RENDERINGS]
    assert rendered == SAFE_RENDERINGS
