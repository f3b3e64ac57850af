"""What an upload is, told by its content: a PDF, Markdown or plain text, or nothing we take.

The file's name only says which of the three the person means; the bytes must agree (a PDF's
magic number, or UTF-8 text). PDFs are opened here already, so an encrypted, malformed or
overlong one is refused at upload and never stored.
"""

import io
import logging
import re
from dataclasses import dataclass

from pypdf import PdfReader

from agentsite.sanitize import SanitizationError, clean_text

logger = logging.getLogger(__name__)

PDF = "application/pdf"
MARKDOWN = "text/markdown"
PLAIN = "text/plain"
EXTENSIONS = {".pdf": PDF, ".md": MARKDOWN, ".markdown": MARKDOWN, ".txt": PLAIN, ".text": PLAIN}
PDF_MAGIC = b"%PDF-"
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class NotAccepted(ValueError):
    """The bytes are not a kind we take (415)."""


class Unreadable(ValueError):
    """The bytes claim a kind we take but cannot be read or indexed (400 at upload, `failed`
    at parse); the message is safe to show."""


@dataclass(frozen=True)
class Page:
    number: int | None  # a PDF's page, from 1; None for text
    text: str


def content_type_of(name: str, data: bytes) -> str:
    """The content type of an upload named `name`; raises NotAccepted."""
    extension = _extension(name)
    if extension and extension not in EXTENSIONS:
        raise NotAccepted("Only PDF, Markdown (.md) and plain text (.txt) files are accepted.")
    if data.startswith(PDF_MAGIC):
        if extension not in ("", ".pdf"):
            raise NotAccepted("The file is a PDF but its name says otherwise.")
        return PDF
    if extension == ".pdf":
        raise NotAccepted("The file is named .pdf but is not a PDF.")
    if not is_text(data):
        raise NotAccepted("The file is not UTF-8 text.")
    return EXTENSIONS.get(extension, PLAIN)


def is_text(data: bytes) -> bool:
    """UTF-8 with no control bytes but tab, newline and carriage return (binary files have
    NULs and other controls within their first few bytes)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL_BYTE.search(data) is None


def open_pdf(data: bytes) -> PdfReader:
    """A readable, unencrypted PDF; raises Unreadable."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        pages = len(reader.pages) if not encrypted else 0
    except Exception as exc:  # pypdf raises many kinds on a broken file, not only PyPdfError
        logger.info("an uploaded PDF is malformed: %s", type(exc).__name__)
        raise Unreadable("The PDF is malformed and cannot be read.") from None
    if encrypted:
        raise Unreadable("The PDF is encrypted; upload it without a password.")
    if pages == 0:
        raise Unreadable("The PDF has no pages.")
    return reader


def page_count(data: bytes, content_type: str) -> int:
    return len(open_pdf(data).pages) if content_type == PDF else 1


def pages_of(data: bytes, content_type: str) -> list[Page]:
    """The document's text, page by page, cleaned as any text a person sends (no control or
    bidi characters, no hidden tag characters); raises Unreadable."""
    if content_type != PDF:
        return [Page(None, _clean(data.decode("utf-8-sig")))]
    pages = []
    for number, page in enumerate(open_pdf(data).pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many kinds on a broken content stream
            logger.info("page %d of a PDF cannot be read: %s", number, type(exc).__name__)
            raise Unreadable(f"Page {number} of the PDF cannot be read.") from None
        pages.append(Page(number, _clean(text)))
    return pages


def _clean(text: str) -> str:
    try:
        return clean_text(text, max_length=len(text) + 1)
    except SanitizationError:
        raise Unreadable("The text is mostly invisible characters.") from None


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""
