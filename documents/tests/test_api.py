"""The documents API: upload, list, read, delete; one person's documents only; bad input is
refused whole (problem+json, nothing stored); chunks go with the document and the account."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import Chunk, Document, DocumentFile
from documents.tests.conftest import client_of
from documents.tests.pdfs import encrypted, pdf_of

pytestmark = pytest.mark.django_db

DTO_KEYS = {
    *("id", "title", "content_type", "size_bytes", "status", "error", "chunk_count", "created_at")
}
NOTES = "# Plants\n\nWater the fern on Sundays.\n\nThe cactus needs sun, not water."


def upload(client, name: str, data: bytes, **fields):
    body = {"file": SimpleUploadedFile(name, data), **fields}
    return client.post("/api/v1/documents", body, format="multipart")


@pytest.fixture
def ada(make_user):
    return make_user("ada@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com")


class TestUpload:
    def test_a_markdown_file_is_stored_as_processing_and_its_parse_queued(
        self, ada, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as queued:
            response = upload(client_of(ada), "plants.md", NOTES.encode())
        assert response.status_code == 201
        body = response.json()
        assert set(body) == DTO_KEYS
        assert body["title"] == "plants.md"
        assert body["content_type"] == "text/markdown"
        assert body["size_bytes"] == len(NOTES.encode())
        assert (body["status"], body["error"], body["chunk_count"]) == ("processing", "", 0)
        assert len(queued) == 1
        stored = DocumentFile.objects.get(document_id=body["id"])
        assert bytes(stored.data) == NOTES.encode()

    @pytest.mark.parametrize(
        ("name", "data", "content_type"),
        [
            ("report.pdf", pdf_of("Quarterly figures."), "application/pdf"),
            ("report", pdf_of("Quarterly figures."), "application/pdf"),
            ("notes.txt", "Plain words, café.".encode(), "text/plain"),
            ("README", b"No extension, still text.", "text/plain"),
        ],
    )
    def test_the_type_is_told_by_the_content(self, ada, name, data, content_type):
        response = upload(client_of(ada), name, data)
        assert response.status_code == 201
        assert response.json()["content_type"] == content_type

    def test_a_file_spooled_to_disk_is_stored_whole(self, ada, settings):
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000  # Django writes bigger uploads to a file
        data = ("A line of notes.\n" * 500).encode()
        response = upload(client_of(ada), "long.txt", data)
        assert response.status_code == 201
        assert bytes(DocumentFile.objects.get(document_id=response.json()["id"]).data) == data

    def test_a_title_may_be_given(self, ada):
        response = upload(client_of(ada), "x.txt", b"text", title="  My notes ")
        assert response.json()["title"] == "My notes"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


class TestBadInput:
    """Each refused with its status as problem+json, and nothing stored."""

    @pytest.mark.parametrize(
        ("name", "data", "status", "code"),
        [
            ("picture.png", PNG, 415, "unsupported_file"),
            ("notes.txt", PNG, 415, "unsupported_file"),
            ("fake.pdf", b"just some text", 415, "unsupported_file"),
            ("report.txt", pdf_of("A PDF in disguise."), 415, "unsupported_file"),
            ("latin1.txt", "caf\xe9".encode("latin-1"), 415, "unsupported_file"),
            ("sheet.docx", b"PK\x03\x04 a zip", 415, "unsupported_file"),
            ("locked.pdf", encrypted(pdf_of("Secret.")), 400, "unreadable_file"),
            ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catal", 400, "unreadable_file"),
            ("empty.txt", b"", 400, "invalid"),
        ],
    )
    def test_a_file_we_cannot_take(self, ada, name, data, status, code):
        response = upload(client_of(ada), name, data)
        assert response.status_code == status, response.content
        assert response["content-type"] == "application/problem+json"
        assert response.json()["code"] == code
        assert not Document.objects.exists()

    def test_a_file_over_the_size_limit_is_413(self, ada, settings):
        settings.DOCUMENTS_MAX_BYTES = 100
        response = upload(client_of(ada), "big.txt", b"x" * 101)
        assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
        assert upload(client_of(ada), "fits.txt", b"x" * 100).status_code == 201

    def test_a_body_far_over_the_limit_is_refused_before_it_is_read(self, ada, settings):
        settings.DOCUMENTS_MAX_BYTES = 1000
        response = upload(client_of(ada), "huge.txt", b"x" * 200_000)
        assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
        assert not Document.objects.exists()

    def test_text_over_the_character_limit_is_413(self, ada, settings):
        settings.DOCUMENTS_MAX_CHARS = 10
        response = upload(client_of(ada), "long.md", ("é" * 11).encode())
        assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
        assert "more than 10 characters" in response.json()["detail"]
        assert upload(client_of(ada), "fits.md", ("é" * 10).encode()).status_code == 201

    def test_a_pdf_over_the_page_limit_is_413(self, ada, settings):
        settings.DOCUMENTS_MAX_PAGES = 2
        response = upload(client_of(ada), "long.pdf", pdf_of("one", "two", "three"))
        assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
        assert not Document.objects.exists()

    def test_a_person_at_the_count_limit_must_delete_first(self, ada, bob, settings):
        settings.DOCUMENTS_MAX_PER_PERSON = 2
        client = client_of(ada)
        for n in range(2):
            assert upload(client, f"{n}.txt", b"text").status_code == 201
        response = upload(client, "third.txt", b"text")
        assert (response.status_code, response.json()["code"]) == (400, "too_many_documents")
        assert Document.objects.filter(owner=ada).count() == 2
        assert upload(client_of(bob), "bobs.txt", b"text").status_code == 201  # per person

    def test_json_is_not_an_upload(self, ada):
        response = client_of(ada).post("/api/v1/documents", {"file": "x"}, format="json")
        assert response.status_code == 415
        assert response["content-type"] == "application/problem+json"

    def test_no_file_or_an_unknown_field_is_400(self, ada):
        client = client_of(ada)
        response = client.post("/api/v1/documents", {"title": "t"}, format="multipart")
        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"file"}
        response = upload(client, "x.txt", b"text", owner="someone")
        assert set(response.json()["errors"]) == {"owner"}
        assert not Document.objects.exists()


class TestListReadDelete:
    def test_the_list_is_a_page_of_the_persons_documents_newest_first(self, ada, bob, indexed):
        indexed(ada, "first", name="first.txt")
        indexed(ada, "second", name="second.txt")
        indexed(bob, "bobs", name="bob.txt")
        page = client_of(ada).get("/api/v1/documents").json()
        assert set(page) == {"count", "next", "previous", "results"}
        assert [d["title"] for d in page["results"]] == ["second.txt", "first.txt"]
        assert {frozenset(d) for d in page["results"]} == {frozenset(DTO_KEYS)}
        assert [d["chunk_count"] for d in page["results"]] == [1, 1]
        assert page["results"][0]["status"] == "ready"

    def test_read_one(self, ada, indexed):
        document = indexed(ada, NOTES, name="plants.md")
        body = client_of(ada).get(f"/api/v1/documents/{document.pk}").json()
        assert (body["id"], body["status"], body["chunk_count"]) == (str(document.pk), "ready", 1)

    def test_delete_takes_the_chunks_with_it(self, ada, indexed):
        document = indexed(ada, NOTES, name="plants.md")
        assert Chunk.objects.filter(document=document).exists()
        client = client_of(ada)
        assert client.delete(f"/api/v1/documents/{document.pk}").status_code == 204
        assert not Document.objects.exists()
        assert not Chunk.objects.exists()
        assert client.get(f"/api/v1/documents/{document.pk}").status_code == 404

    def test_deleting_the_account_takes_documents_and_chunks(self, ada, bob, indexed):
        indexed(ada, NOTES, name="plants.md")
        processing = client_of(ada)
        upload(processing, "waiting.txt", b"not parsed yet")
        indexed(bob, "Bob keeps his.", name="bob.txt")
        assert client_of(ada).delete("/api/v1/auth/me").status_code == 204
        assert not Document.objects.filter(owner_id=ada.pk).exists()
        assert not Chunk.objects.filter(owner_id=ada.pk).exists()
        assert DocumentFile.objects.count() == 0  # Bob's was parsed, Ada's went
        assert Chunk.objects.filter(owner=bob).count() == 1


class TestIsolation:
    """Another person's document is a 404 everywhere, and stays as it was."""

    def test_another_persons_document_cannot_be_read_or_deleted(self, ada, bob, indexed):
        bobs = indexed(bob, "Bob's private notes.", name="bob.txt")
        client = client_of(ada)
        assert client.get(f"/api/v1/documents/{bobs.pk}").status_code == 404
        response = client.delete(f"/api/v1/documents/{bobs.pk}")
        assert response.status_code == 404
        assert response["content-type"] == "application/problem+json"
        assert client.get("/api/v1/documents").json()["count"] == 0
        assert Chunk.objects.filter(document=bobs).count() == 1

    def test_an_unknown_id_is_a_404(self, ada):
        assert client_of(ada).get(f"/api/v1/documents/{uuid.uuid4()}").status_code == 404

    def test_anonymous_is_401(self, api_client):
        assert api_client.get("/api/v1/documents").status_code == 401
        assert upload(api_client, "x.txt", b"text").status_code == 401
        assert not Document.objects.exists()
