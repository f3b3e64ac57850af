"""Documents in the admin: staff see each one's status, reason and chunk count, change none."""

import pytest
from django.core.management import call_command
from django.test import Client

from documents.models import Chunk, Document

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member_client(make_user):
    """A client of its own (not `client`, which staff_client signs in as a superuser)."""
    client = Client()
    member = make_user(email="viewer@example.com")
    call_command("make_staff", member.email)
    client.force_login(member)
    return client


def test_staff_see_documents_with_status_and_chunk_count(staff_member_client, user, indexed):
    ready = indexed(user, "Some words.", name="ready.md")
    Document.objects.create(
        owner=user,
        title="broken.pdf",
        content_type="application/pdf",
        size_bytes=9,
        status=Document.Status.FAILED,
        error="Page 2 of the PDF cannot be read.",
    )
    page = staff_member_client.get("/admin/documents/document/").content.decode()
    assert "ready.md" in page
    assert "broken.pdf" in page
    assert "ada@example.com" in page
    assert ">1<" in page  # ready.md's chunk count
    detail = staff_member_client.get(f"/admin/documents/document/{ready.pk}/change/")
    assert detail.status_code == 200
    assert detail.context["has_change_permission"] is False
    failed = Document.objects.get(title="broken.pdf")
    page = staff_member_client.get(f"/admin/documents/document/{failed.pk}/change/")
    assert "Page 2 of the PDF cannot be read." in page.content.decode()


def test_staff_may_not_delete_a_superuser_may_and_the_chunks_go(
    staff_member_client, staff_client, user, indexed
):
    document = indexed(user, "Some words.", name="ready.md")
    url = f"/admin/documents/document/{document.pk}/delete/"
    assert staff_member_client.post(url).status_code == 403
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Document.objects.exists()
    assert not Chunk.objects.exists()
