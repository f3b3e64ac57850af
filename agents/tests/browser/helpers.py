"""What browser tests do on the pages: log in, send, wait for an answer, take screenshots."""

from pathlib import Path

from django.conf import settings

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"


def log_in(page, email, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/chat*")
    wait_until_ready(page)


def wait_until_ready(page):
    page.wait_for_selector("body[data-ready='true']")


def send(page, text):
    """Type and send a message; returns once its answer's view is on the page."""
    answers = page.locator(".message.assistant").count()
    page.get_by_label("Your message").fill(text)
    page.get_by_role("button", name="Send").click()
    page.locator(".message.assistant").nth(answers).wait_for()


def last_answer(page):
    return page.locator(".message.assistant").last


def wait_until_answered(page):
    """Until the last answer stopped streaming (done, error or stopped)."""
    page.wait_for_function(
        "() => { const all = document.querySelectorAll('.message.assistant');"
        " return all.length && !all[all.length - 1].classList.contains('streaming'); }"
    )


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))
