"""The documents panel in a real browser: the person uploads a file (with its progress), sees
it processing, then ready or failed with the reason, and deletes one. The parse runs in the
test's process (the task's body) while the page polls."""

import pytest
from playwright.sync_api import expect

from agents.tests.browser.helpers import log_in, screenshot
from documents import services
from documents.models import Chunk, Document
from documents.tests.pdfs import pdf_of
from documents.tests.test_parse import INFLATING_PAGE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTES = b"# Garden\n\nWater the tomatoes twice a week and give them six hours of sun."
RECORD_PROGRESS = """() => {
  window.__progress = [];
  const bar = document.querySelector('#document-progress');
  new MutationObserver(() => window.__progress.push(Number(bar.value)))
    .observe(bar, { attributes: true, attributeFilter: ['value'] });
}"""


def upload(panel, name: str, data: bytes, mime: str):
    panel.get_by_label("Document to upload").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    panel.get_by_role("button", name="Upload", exact=True).click()


def parse_the_processing_one() -> Document:
    document = Document.objects.get(status=Document.Status.PROCESSING)
    services.parse_document(document.pk)
    return document


def test_upload_watch_and_delete_documents(page, make_user):
    ada = make_user(email="ada@example.com")
    log_in(page, "ada@example.com")
    toggle = page.get_by_role("button", name="Documents", exact=True)
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    panel = page.get_by_role("complementary", name="Your documents")
    panel.get_by_text("You have no documents yet.").wait_for()

    page.evaluate(RECORD_PROGRESS)
    upload(panel, "garden.md", NOTES, "text/markdown")
    panel.get_by_text("garden.md uploaded; it is being read.").wait_for()
    assert page.evaluate("window.__progress").count(100) >= 1  # the bar reached the end
    expect(panel.locator("#document-progress")).to_be_hidden()
    garden = panel.locator(".document-item", has_text="garden.md")
    garden.get_by_text("Processing…").wait_for()
    parse_the_processing_one()
    garden.get_by_text("Ready · 1 passage").wait_for()  # the page polled

    upload(panel, "picture.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")
    panel.get_by_text("Only PDF, Markdown (.md) and plain text (.txt) files").wait_for()
    assert Document.objects.filter(owner=ada).count() == 1

    upload(panel, "broken.pdf", pdf_of("A fine first page.", INFLATING_PAGE), "application/pdf")
    broken = panel.locator(".document-item", has_text="broken.pdf")
    broken.get_by_text("Processing…").wait_for()
    parse_the_processing_one()
    broken.get_by_text("Failed: Page 2 of the PDF cannot be read.").wait_for()
    screenshot(page, "documents-panel.png")

    panel.get_by_role("button", name="Delete document: garden.md").click()
    panel.get_by_text("Document deleted.").wait_for()
    assert [t.strip() for t in panel.locator(".document-title").all_inner_texts()] == ["broken.pdf"]
    assert not Document.objects.filter(title="garden.md").exists()
    assert not Chunk.objects.exists()

    page.keyboard.press("Escape")
    assert not panel.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
