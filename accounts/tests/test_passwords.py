"""Changing and resetting a password: validators, single-use expiring links, no enumeration,
and every other log-in (tokens and sessions) ended."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import TokenFamily, User
from accounts.tests.test_auth_api import PASSWORD, assert_problem, login

pytestmark = pytest.mark.django_db

NEW = "a brand new passphrase"
LINK = re.compile(r"http://testserver/password/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)")


@pytest.fixture
def eager_tasks(monkeypatch):
    """The reset mail is a Celery task: run it in the request, as a worker would."""
    from agentsite.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


def change(client, current=PASSWORD, new=NEW, **kwargs):
    body = {"current_password": current, "new_password": new}
    return client.post("/api/v1/auth/password/change", body, format="json", **kwargs)


def me(client, access):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/auth/me")


def ask_reset(client, email="ada@example.com"):
    return client.post("/api/v1/auth/password/reset", {"email": email}, format="json")


def confirm(client, uid, token, new=NEW):
    body = {"uid": uid, "token": token, "new_password": new}
    return client.post("/api/v1/auth/password/reset/confirm", body, format="json")


def mailed_link() -> dict:
    (message,) = mail.outbox
    return LINK.search(message.body).groupdict()


def assert_every_log_in_ended(api_client, pairs):
    for pair in pairs:
        assert_problem(me(api_client, pair["access"]), 401, "token_not_valid")
        refreshed = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json"
        )
        assert_problem(refreshed, 401, "token_not_valid")


class TestChange:
    def test_ends_every_other_log_in_and_answers_the_callers_new_one(self, api_client, user):
        phone, laptop = login(api_client).json(), login(api_client).json()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {laptop['access']}")
        response = change(api_client)
        assert response.status_code == 200
        fresh = response.json()
        assert set(fresh) == {"access", "refresh", "token_type", "expires_in"}

        assert_every_log_in_ended(api_client, [phone, laptop])
        assert me(api_client, fresh["access"]).status_code == 200
        assert login(api_client).status_code == 401
        assert login(api_client, password=NEW).status_code == 200
        assert set(TokenFamily.objects.exclude(revoked_at=None).values_list("revoked_reason")) == {
            (TokenFamily.Revoked.PASSWORD,)
        }

    def test_a_wrong_current_password_changes_nothing(self, api_client, user):
        pair = login(api_client).json()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
        assert_problem(change(api_client, current="not it"), 403, "wrong_password")
        assert User.objects.get().check_password(PASSWORD)
        assert me(api_client, pair["access"]).status_code == 200

    def test_wrong_current_passwords_back_off_like_log_ins(self, api_client, user, settings):
        """A stolen access token cannot guess the password freely."""
        settings.LOGIN_FREE_FAILURES_ACCOUNT = 2
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(api_client).json()['access']}")
        thief = {"REMOTE_ADDR": "203.0.113.66"}  # not a network the owner logged in from
        for _ in range(2):
            assert_problem(change(api_client, current="guess", **thief), 403, "wrong_password")
        response = change(api_client, **thief)
        assert_problem(response, 429, "rate_limited")
        assert int(response["Retry-After"]) == settings.LOGIN_LOCK_SECONDS
        assert User.objects.get().check_password(PASSWORD)

    @pytest.mark.parametrize(
        "weak", ["short", "12345678901", "password123", "ada@example.com", "ada example"]
    )
    def test_djangos_validators_apply(self, api_client, user, weak):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(api_client).json()['access']}")
        body = assert_problem(change(api_client, new=weak), 400, "invalid")
        assert set(body["errors"]) == {"new_password"}
        assert User.objects.get().check_password(PASSWORD)

    def test_needs_a_log_in(self, api_client, user):
        assert_problem(change(api_client), 401, "not_authenticated")

    def test_from_the_web_session_keeps_it_and_ends_the_others(self, user):
        here, elsewhere = Client(enforce_csrf_checks=True), Client()
        for client in (here, elsewhere):
            client.force_login(user)
        key_before = here.session.session_key
        here.get("/chat")  # the page sets the CSRF cookie the chat's script sends back
        body = {"current_password": PASSWORD, "new_password": NEW}
        refused = here.post("/api/v1/auth/password/change", body, content_type="application/json")
        assert_problem(refused, 403, "csrf_failed")  # a cookie write without the token
        response = here.post(
            "/api/v1/auth/password/change",
            body,
            content_type="application/json",
            HTTP_X_CSRFTOKEN=here.cookies["csrftoken"].value,
        )
        assert response.status_code == 200
        assert here.get("/chat").status_code == 200
        assert here.session.session_key != key_before
        assert elsewhere.get("/chat")["Location"] == "/login?next=/chat"


class TestResetRequest:
    def test_an_account_gets_a_link_and_the_answer_says_nothing(
        self, api_client, user, eager_tasks
    ):
        known = ask_reset(api_client)
        assert len(mail.outbox) == 1
        unknown = ask_reset(api_client, "nobody@example.com")
        assert len(mail.outbox) == 1
        for response in (known, unknown):
            assert response.status_code == 202
            assert response.content == b""
        assert {k for k, _ in known.items()} == {k for k, _ in unknown.items()}
        (message,) = mail.outbox
        assert message.to == ["ada@example.com"]
        assert LINK.search(message.body)
        assert PASSWORD not in message.body

    def test_the_address_is_normalized(self, api_client, user, eager_tasks):
        assert ask_reset(api_client, "ADA@Example.com").status_code == 202
        assert mail.outbox[0].to == ["ada@example.com"]

    def test_an_inactive_account_gets_no_mail(self, api_client, make_user, eager_tasks):
        make_user(is_active=False)
        assert ask_reset(api_client).status_code == 202
        assert mail.outbox == []

    def test_many_requests_are_one_mail_a_minute(self, api_client, user, eager_tasks):
        for _ in range(3):
            assert ask_reset(api_client).status_code == 202
        assert len(mail.outbox) == 1

    def test_requests_are_limited_per_address(self, api_client, user, settings, eager_tasks):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": "2/h"}
        ask_reset(api_client, "one@example.com")
        ask_reset(api_client, "two@example.com")
        response = ask_reset(api_client)
        assert_problem(response, 429, "rate_limited")
        assert "Retry-After" in response
        assert mail.outbox == []

    def test_the_request_only_queues_the_work(self, api_client, user):
        """Without a worker nothing is mailed during the request: an account and no
        account take the same path."""
        assert ask_reset(api_client).status_code == 202
        assert mail.outbox == []

    def test_bad_input(self, api_client):
        assert_problem(ask_reset(api_client, "not an email"), 400, "invalid")
        response = api_client.post(
            "/api/v1/auth/password/reset", {"email": "a@b.co", "x": 1}, format="json"
        )
        assert_problem(response, 400, "invalid")


class TestResetConfirm:
    def test_the_link_sets_the_password_once_and_ends_every_log_in(
        self, api_client, user, eager_tasks
    ):
        pairs = [login(api_client).json(), login(api_client).json()]
        ask_reset(api_client)
        link = mailed_link()
        assert confirm(api_client, **link).status_code == 204
        assert User.objects.get().check_password(NEW)
        assert_every_log_in_ended(api_client, pairs)

        again = confirm(api_client, **link, new="yet another phrase")
        assert_problem(again, 403, "invalid_reset_link")
        assert User.objects.get().check_password(NEW)

    def test_an_expired_link(self, api_client, user, settings):
        class LastHour(PasswordResetTokenGenerator):
            def _now(self):
                return datetime.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)

        uid = urlsafe_base64_encode(force_bytes(user.pk))
        expired = confirm(api_client, uid, LastHour().make_token(user))
        assert_problem(expired, 403, "invalid_reset_link")
        assert User.objects.get().check_password(PASSWORD)

    def test_a_link_for_another_account_or_garbage(self, api_client, user, make_user):
        bob = make_user(email="bob@example.com")
        bobs_token = PasswordResetTokenGenerator().make_token(bob)
        ada_uid = urlsafe_base64_encode(force_bytes(user.pk))
        for uid, token in [
            (ada_uid, bobs_token),
            ("!!", bobs_token),
            (urlsafe_base64_encode(b"not-a-uuid"), bobs_token),
            (ada_uid, "x"),
        ]:
            assert_problem(confirm(api_client, uid, token), 403, "invalid_reset_link")
        assert User.objects.get(pk=user.pk).check_password(PASSWORD)

    def test_a_weak_password_keeps_the_link_good(self, api_client, user, eager_tasks):
        ask_reset(api_client)
        link = mailed_link()
        body = assert_problem(confirm(api_client, **link, new="password123"), 400)
        assert set(body["errors"]) == {"new_password"}
        assert confirm(api_client, **link).status_code == 204

    def test_a_link_of_an_account_deactivated_since(self, api_client, user, eager_tasks):
        ask_reset(api_client)
        User.objects.filter(pk=user.pk).update(is_active=False)
        assert_problem(confirm(api_client, **mailed_link()), 403, "invalid_reset_link")


class TestResetPages:
    def test_ask_follow_the_link_and_set_a_password(self, client, api_client, user, eager_tasks):
        pair = login(api_client).json()
        assert client.get("/password/reset/").status_code == 200
        sent = client.post("/password/reset/", {"email": "ada@example.com"})
        assert "on its way" in sent.content.decode()
        link = mailed_link()

        opened = client.get(f"/password/reset/{link['uid']}/{link['token']}")
        assert opened.status_code == 302  # Django moves the token out of the URL
        assert link["token"] not in opened["Location"]
        form = client.get(opened["Location"])
        assert form.context["validlink"]
        done = client.post(opened["Location"], {"new_password1": NEW, "new_password2": NEW})
        assert done["Location"] == "/password/reset/done"
        assert User.objects.get().check_password(NEW)
        assert_every_log_in_ended(api_client, [pair])

        spent = client.get(f"/password/reset/{link['uid']}/{link['token']}", follow=True)
        assert not spent.context["validlink"]

    def test_the_page_says_the_same_for_no_account(self, client, eager_tasks):
        sent = client.post("/password/reset/", {"email": "nobody@example.com"})
        assert "on its way" in sent.content.decode()
        assert mail.outbox == []
