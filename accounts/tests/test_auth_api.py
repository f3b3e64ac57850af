"""The accounts part of API.md, over Django's test client against real Postgres and Valkey."""

import json
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
USER_KEYS = {"id", "email", "display_name", "date_joined"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


def register(client, **body):
    payload = {"email": "grace@example.com", "password": PASSWORD, **body}
    return client.post("/api/v1/auth/register", payload, format="json")


def login(client, email="ada@example.com", password=PASSWORD):
    return client.post("/api/v1/auth/token", {"email": email, "password": password}, format="json")


def bearer(user) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]
    if code:
        assert body["code"] == code
    return body


class TestRegister:
    def test_creates_account_and_returns_only_the_user_dto(self, api_client):
        response = register(api_client, display_name="Grace")
        assert response.status_code == 201
        body = response.json()
        assert set(body) == USER_KEYS
        assert body["email"] == "grace@example.com"
        assert body["display_name"] == "Grace"
        assert User.objects.get(email="grace@example.com").check_password(PASSWORD)

    def test_email_is_case_insensitive_and_unique(self, api_client):
        assert register(api_client, email="Grace@Example.com").status_code == 201
        assert_problem(register(api_client, email="GRACE@example.COM"), 409, "email_taken")
        assert User.objects.count() == 1

    def test_weak_password_is_refused_with_field_errors(self, api_client):
        body = assert_problem(register(api_client, password="123"), 400, "invalid")
        assert body["errors"]["password"]
        assert not User.objects.exists()

    def test_password_like_the_email_is_refused(self, api_client):
        response = register(api_client, email="grace.hopper@example.com", password="gracehopper")
        assert_problem(response, 400)

    def test_unknown_fields_are_refused_and_nothing_is_written(self, api_client):
        body = assert_problem(register(api_client, is_staff=True), 400, "invalid")
        assert body["errors"] == {"is_staff": ["This field is not accepted."]}
        assert not User.objects.exists()

    def test_missing_fields(self, api_client):
        body = assert_problem(api_client.post("/api/v1/auth/register", {}, format="json"), 400)
        assert set(body["errors"]) == {"email", "password"}

    def test_malformed_json(self, api_client):
        response = api_client.post(
            "/api/v1/auth/register", "{not json", content_type="application/json"
        )
        assert_problem(response, 400, "malformed_request")
        assert not User.objects.exists()

    def test_wrong_content_type(self, api_client):
        response = api_client.post(
            "/api/v1/auth/register",
            "email=a%40b.c&password=x",
            content_type="application/x-www-form-urlencoded",
        )
        assert_problem(response, 415, "unsupported_media_type")

    def test_oversize_body(self, api_client, settings):
        response = api_client.post(
            "/api/v1/auth/register",
            json.dumps({"email": "a@b.c", "password": "x" * (70 * 1024)}),
            content_type="application/json",
        )
        assert_problem(response, 413, "payload_too_large")
        assert not User.objects.exists()

    def test_display_name_is_sanitized_not_escaped(self, api_client):
        response = register(api_client, display_name="  <b>Grace</b>\x00\u202e\t ")
        assert response.status_code == 201
        assert response.json()["display_name"] == "<b>Grace</b>"

    def test_password_is_never_altered(self, api_client):
        odd = "  pässwörd\twith spaces  "
        assert register(api_client, password=odd).status_code == 201
        assert login(api_client, "grace@example.com", odd).status_code == 200


class TestToken:
    def test_pair_has_the_documented_shape(self, api_client, user):
        response = login(api_client)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access", "refresh", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 15 * 60
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
        assert api_client.get("/api/v1/auth/me").json()["id"] == str(user.id)

    def test_email_case_does_not_matter(self, api_client, user):
        assert login(api_client, email="ADA@example.com").status_code == 200

    def test_wrong_password(self, api_client, user):
        assert_problem(login(api_client, password="wrong password!"), 401, "invalid_credentials")

    def test_unknown_email_looks_the_same_as_a_wrong_password(self, api_client, user):
        wrong_password = login(api_client, password="wrong password!").json()
        unknown = login(api_client, email="nobody@example.com").json()
        assert wrong_password["detail"] == unknown["detail"]

    def test_inactive_account_cannot_sign_in(self, api_client, make_user):
        make_user(is_active=False)
        assert_problem(login(api_client), 401)


class TestRefreshAndLogout:
    def test_refresh_rotates_and_a_used_token_is_dead(self, api_client, user):
        first = login(api_client).json()
        rotated = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json"
        )
        assert rotated.status_code == 200
        assert set(rotated.json()) == {"access", "refresh"}
        assert rotated.json()["refresh"] != first["refresh"]
        reused = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json"
        )
        assert_problem(reused, 401)
        again = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": rotated.json()["refresh"]}, format="json"
        )
        assert_problem(again, 401)  # the reuse revoked the whole family (test_tokens.py)

    def test_access_token_cannot_refresh(self, api_client, user):
        access = login(api_client).json()["access"]
        response = api_client.post("/api/v1/auth/token/refresh", {"refresh": access}, format="json")
        assert_problem(response, 401)

    def test_logout_blacklists_the_refresh_token(self, api_client, user):
        pair = login(api_client).json()
        response = api_client.post(
            "/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json"
        )
        assert response.status_code == 204
        after = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json"
        )
        assert_problem(after, 401)

    def test_logout_with_garbage(self, api_client):
        response = api_client.post("/api/v1/auth/logout", {"refresh": "nope"}, format="json")
        assert_problem(response, 401, "token_not_valid")

    def test_refresh_of_a_deleted_account(self, api_client, user):
        refresh = login(api_client).json()["refresh"]
        user.delete()
        response = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": refresh}, format="json"
        )
        assert_problem(response, 401)


class TestMe:
    def test_me_is_exactly_the_user_dto(self, auth_client, user):
        body = auth_client.get("/api/v1/auth/me").json()
        assert set(body) == USER_KEYS
        assert "password" not in json.dumps(body)

    def test_anonymous_gets_401_with_challenge(self, api_client):
        response = api_client.get("/api/v1/auth/me")
        assert_problem(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_delete_me_removes_the_account_and_its_tokens_stop_working(self, auth_client, user):
        assert auth_client.delete("/api/v1/auth/me").status_code == 204
        assert not User.objects.filter(pk=user.pk).exists()
        assert_problem(auth_client.get("/api/v1/auth/me"), 401)

    def test_tokens_of_one_user_never_show_another(self, api_client, make_user):
        ada = make_user()
        bob = make_user(email="bob@example.com")
        api_client.credentials(
            HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(bob).access_token}"
        )
        assert api_client.get("/api/v1/auth/me").json()["id"] == str(bob.id)
        api_client.delete("/api/v1/auth/me")
        assert User.objects.filter(pk=ada.pk).exists()


class TestBadTokens:
    def test_tampered_signature(self, api_client, user):
        token = str(RefreshToken.for_user(user).access_token)
        head, payload, signature = token.split(".")
        forged = f"{head}.{payload}.{signature[::-1]}"
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert_problem(api_client.get("/api/v1/auth/me"), 401, "token_not_valid")

    def test_tampered_payload(self, api_client, make_user):
        import base64

        ada = make_user()
        bob = make_user(email="bob@example.com")
        head, payload, signature = str(RefreshToken.for_user(ada).access_token).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["user_id"] = str(bob.id)
        forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        api_client.credentials(
            HTTP_AUTHORIZATION=f"Bearer {head}.{forged_payload.decode()}.{signature}"
        )
        assert_problem(api_client.get("/api/v1/auth/me"), 401, "token_not_valid")

    def test_expired(self, api_client, user):
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=-timedelta(seconds=1))
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert_problem(api_client.get("/api/v1/auth/me"), 401, "token_not_valid")

    def test_refresh_token_used_as_access(self, api_client, user):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")
        assert_problem(api_client.get("/api/v1/auth/me"), 401, "token_not_valid")

    def test_wrong_scheme(self, api_client, user):
        token = RefreshToken.for_user(user).access_token
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert_problem(api_client.get("/api/v1/auth/me"), 401)


class TestRateLimits:
    def test_password_attempts_are_limited_per_ip(self, api_client, user, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "token": "3/m"}
        for _ in range(3):
            assert login(api_client, password="wrong password!").status_code == 401
        response = login(api_client)
        body = assert_problem(response, 429, "rate_limited")
        assert 1 <= int(response["Retry-After"]) <= 60
        assert body["detail"]

    def test_sign_ups_are_limited_per_ip(self, api_client, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "2/h"}
        for n in range(2):
            assert register(api_client, email=f"p{n}@example.com").status_code == 201
        assert_problem(register(api_client, email="p3@example.com"), 429)
        assert User.objects.count() == 2

    def test_api_calls_are_limited_per_user(self, api_client, make_user, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "2/m"}
        ada, bob = make_user(), make_user(email="bob@example.com")
        for who in (ada, bob):
            api_client.credentials(
                HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(who).access_token}"
            )
            assert api_client.get("/api/v1/auth/me").status_code == 200
            assert api_client.get("/api/v1/auth/me").status_code == 200
            assert_problem(api_client.get("/api/v1/auth/me"), 429)

    def test_other_ips_are_not_affected(self, api_client, user, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "token": "1/m"}
        assert login(api_client).status_code == 200
        assert login(api_client).status_code == 429
        other = api_client.post(
            "/api/v1/auth/token",
            {"email": "ada@example.com", "password": PASSWORD},
            format="json",
            REMOTE_ADDR="10.1.2.3",
        )
        assert other.status_code == 200
