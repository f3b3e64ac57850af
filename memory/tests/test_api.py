"""The memories API and the admin: one person's memories only, exact DTO keys."""

import uuid

import pytest
from django.core.management import call_command
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as accounts
from memory import services
from memory.models import Memory
from memory.tests.conftest import extraction, say

pytestmark = pytest.mark.django_db(transaction=True)

FACTS = ("User lives in Paris", "User is vegetarian", "User has a cat named Miso")


@pytest.fixture
def remembered(llm, make_user):
    """Ada with three memories, Bob with one."""
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    llm.set_rules([extraction("about me", *FACTS), extraction("I am Bob", "User is named Bob")])
    services.remember_message(say(ada, "Some facts about me").pk)
    services.remember_message(say(bob, "I am Bob").pk)
    return ada, bob


def client_of(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return api_client


def bobs_memory(bob) -> Memory:
    return Memory.objects.owned_by(bob.pk).get()


class TestMemoriesApi:
    def test_list_is_a_page_of_the_persons_memories_with_exact_keys(self, api_client, remembered):
        ada, _ = remembered
        page = client_of(api_client, ada).get("/api/v1/memories").json()
        assert set(page) == {"count", "next", "previous", "results"}
        assert page["count"] == 3
        assert sorted(item["text"] for item in page["results"]) == sorted(FACTS)
        assert {frozenset(item) for item in page["results"]} == {
            frozenset({"id", "text", "created_at", "updated_at"})
        }

    def test_search_puts_the_most_relevant_first(self, api_client, remembered):
        ada, _ = remembered
        page = client_of(api_client, ada).get("/api/v1/memories", {"q": "my pet"}).json()
        assert page["results"][0]["text"] == "User has a cat named Miso"
        assert "User is named Bob" not in [item["text"] for item in page["results"]]

    def test_no_parameter_can_name_another_person(self, api_client, remembered):
        ada, bob = remembered
        response = client_of(api_client, ada).get("/api/v1/memories", {"user_id": str(bob.pk)})
        assert response.status_code == 400
        assert response["content-type"] == "application/problem+json"

    def test_delete_one(self, api_client, remembered):
        ada, _ = remembered
        client = client_of(api_client, ada)
        first = client.get("/api/v1/memories").json()["results"][0]
        assert client.delete(f"/api/v1/memories/{first['id']}").status_code == 204
        assert client.get("/api/v1/memories").json()["count"] == 2

    def test_another_persons_memory_is_a_404_and_stays(self, api_client, remembered):
        ada, bob = remembered
        client = client_of(api_client, ada)
        response = client.delete(f"/api/v1/memories/{bobs_memory(bob).pk}")
        assert response.status_code == 404
        assert client.delete(f"/api/v1/memories/{uuid.uuid4()}").status_code == 404
        assert Memory.objects.owned_by(bob.pk).count() == 1

    def test_forget_all_forgets_this_person_only(self, api_client, remembered):
        ada, bob = remembered
        client = client_of(api_client, ada)
        assert client.delete("/api/v1/memories").status_code == 204
        assert client.get("/api/v1/memories").json()["count"] == 0
        assert Memory.objects.owned_by(bob.pk).count() == 1

    def test_anonymous_is_refused(self, api_client):
        assert api_client.get("/api/v1/memories").status_code == 401

    def test_deleting_the_account_deletes_its_memories(self, remembered):
        ada, bob = remembered
        accounts.delete_user(ada)
        assert not Memory.objects.owned_by(ada.pk).exists()
        assert Memory.objects.owned_by(bob.pk).count() == 1


class TestAdmin:
    @pytest.fixture
    def staff_client(self, client, make_user):
        staff = make_user(email="staff@example.com", is_staff=True, is_superuser=True)
        client.force_login(staff)
        return client

    def test_list_per_person_and_search(self, staff_client, remembered):
        ada, _ = remembered
        page = staff_client.get("/admin/memory/memory/")
        assert page.status_code == 200
        assert page.context["cl"].result_count == 4
        assert b"ada@example.com" in page.content
        mine = staff_client.get(f"/admin/memory/memory/?owner={ada.pk}")
        assert mine.context["cl"].result_count == 3
        found = staff_client.get("/admin/memory/memory/?q=vegetarian")
        assert found.context["cl"].result_count == 1
        by_email = staff_client.get("/admin/memory/memory/?q=bob@example")
        assert by_email.context["cl"].result_count == 1

    def test_detail_shows_the_source_session(self, staff_client, remembered):
        _, bob = remembered
        memory = bobs_memory(bob)
        page = staff_client.get(f"/admin/memory/memory/{memory.pk}/change/")
        assert page.status_code == 200
        assert memory.source_session_id.encode() in page.content

    def test_delete_selected_goes_through_the_service(self, staff_client, remembered):
        _, bob = remembered
        memory = bobs_memory(bob)
        response = staff_client.post(
            "/admin/memory/memory/",
            {"action": "delete_selected", "_selected_action": [str(memory.pk)], "post": "yes"},
        )
        assert response.status_code == 302
        assert not Memory.objects.owned_by(bob.pk).exists()

    def test_the_staff_role_reads_and_deletes_memories_but_changes_none(
        self, client, make_user, remembered
    ):
        _, bob = remembered
        client.force_login(make_user(email="erasure@example.com"))
        call_command("make_staff", "erasure@example.com")
        memory = bobs_memory(bob)
        assert client.get(f"/admin/memory/memory/{memory.pk}/change/").status_code == 200
        assert client.get("/admin/memory/memory/add/").status_code == 403
        response = client.post(f"/admin/memory/memory/{memory.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert not Memory.objects.owned_by(bob.pk).exists()
