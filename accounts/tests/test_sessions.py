"""Web sessions: no fixation on log-in or sign-up, nothing left after log-out."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from accounts.tests.test_auth_api import PASSWORD

pytestmark = pytest.mark.django_db


def planted_session() -> str:
    """A session key an attacker made (on their own visit) and slipped into the victim's
    browser, hoping it becomes signed in."""
    store = SessionStore()
    store["planted"] = True
    store.create()
    return store.session_key


def browser_with(session_key: str) -> Client:
    client = Client()
    client.cookies["sessionid"] = session_key
    return client


def assert_signed_out(session_key: str):
    attacker = browser_with(session_key)
    assert attacker.get("/chat")["Location"] == "/login?next=/chat"
    assert attacker.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/login", {"username": "ada@example.com", "password": PASSWORD}),
        (
            "/signup",
            {"email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD},
        ),
    ],
)
def test_signing_in_gives_a_new_session_key(make_user, path, form):
    make_user()
    planted = planted_session()
    victim = browser_with(planted)
    assert victim.post(path, form).status_code == 302
    assert victim.cookies["sessionid"].value != planted
    assert victim.get("/chat").status_code == 200
    assert not SessionStore().exists(planted)  # the old key is gone, not just unused
    assert_signed_out(planted)


def test_the_session_key_of_a_signed_in_browser_changes_on_a_second_log_in(make_user):
    make_user()
    browser = Client()
    browser.post("/login", {"username": "ada@example.com", "password": PASSWORD})
    first = browser.cookies["sessionid"].value
    browser.logout()
    browser.post("/login", {"username": "ada@example.com", "password": PASSWORD})
    assert browser.cookies["sessionid"].value != first


def test_a_failed_log_in_does_not_adopt_the_planted_session(make_user):
    make_user()
    planted = planted_session()
    victim = browser_with(planted)
    refused = victim.post("/login", {"username": "ada@example.com", "password": "no"})
    assert refused.status_code == 200  # the form again, with its error
    assert_signed_out(planted)


def test_logging_out_ends_the_session_on_the_server(make_user):
    make_user()
    browser = Client()
    browser.post("/login", {"username": "ada@example.com", "password": PASSWORD})
    key = browser.cookies["sessionid"].value
    browser.post("/logout")
    assert not SessionStore().exists(key)
    assert_signed_out(key)
