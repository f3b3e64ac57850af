"""Browser tests: Debian's Chromium, headless, driven by Playwright against a live uvicorn.

The server is another process, so tests commit their data (transaction=True). The LLM is a
simulator of this module's own that streams at a human-visible pace, with scripted replies.
Every page must run without a JavaScript error or a CSP refusal: the `page` fixture fails
the test on either.
"""

import os
import shutil
from pathlib import Path

import pytest

from agents.tests import SIMULATOR_RULES
from devtools.llmservers.simulator import SimulatorConfig, running_simulator

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ALLOW_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
LONG_STORY = " ".join(f"word{n}" for n in range(400))
HOSTILE_ANSWER = (
    "Here you go: <script>window.__pwned = 'script'</script> and "
    "<img src=x onerror=\"window.__pwned = 'img'\"> and "
    "[a harmless link](javascript:window.__pwned='link') and **bold** text."
)
RULES = [
    {"match": "long story", "reply": LONG_STORY},
    {"match": "hostile answer", "reply": HOSTILE_ANSWER},
    {
        "match": "markdown please",
        "reply": "Here is **bold**, *italic* and `code`:\n\n- one\n- two\n\n"
        "```python\nprint('hi')\n```\n\nSee [the docs](https://example.com/docs).",
    },
]


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (contexts isolate the tests).

    Playwright's sync API keeps an asyncio loop running in this thread, so Django would take
    every ORM call of the test for one made from async code: the check is lifted while the
    browser lives (only here, and never in the server, see `server`). Module scope ends the
    loop before other test modules run.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run .ci/ensure-chromium (make test does)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv(ALLOW_ASYNC_UNSAFE, "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def paced_llm():
    """Answers at 40 tokens/s, so streamed text visibly grows; scripted replies above."""
    config = SimulatorConfig(
        ttft_ms=100, tokens_per_s=40, reply_tokens=40, rules=RULES, base_rules=SIMULATOR_RULES
    )
    with running_simulator(config) as simulator:
        yield simulator


@pytest.fixture
def llm_sim(paced_llm):
    paced_llm.reset()
    paced_llm.clear_faults()
    yield paced_llm
    paced_llm.clear_faults()


@pytest.fixture
def server(asgi_server, llm_sim):
    return asgi_server(env={"LLM_BASE_URL": llm_sim.base_url, ALLOW_ASYNC_UNSAFE: ""})


@pytest.fixture
def new_page(chromium, server):
    """A factory of pages in fresh contexts; JavaScript errors and CSP refusals fail the test."""
    contexts, problems = [], []

    def make(**context_options):
        options = {"viewport": {"width": 1280, "height": 800}, **context_options}
        context = chromium.new_context(base_url=server.url, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: message.type == "error" and problems.append(message.text),
        )
        return page

    yield make
    for context in contexts:
        context.close()
    # Failed requests the tests cause on purpose (a 500 from the model) are not page errors.
    unexpected = [p for p in problems if "Failed to load resource" not in p]
    assert not unexpected, unexpected


@pytest.fixture
def page(new_page):
    return new_page()
