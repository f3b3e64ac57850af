"""Sign-up, log-in and log-out pages (Django session auth); the chat page needs a login."""

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def sign_up(client, **fields):
    data = {"email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD, **fields}
    return client.post("/signup", data)


def test_sign_up_logs_in_and_opens_the_chat(client):
    response = sign_up(client, email="Ada@Example.COM", display_name="  Ada\u202e ")
    assert response.status_code == 302
    assert response["Location"] == "/chat"
    user = User.objects.get()
    assert (user.email, user.display_name) == ("ada@example.com", "Ada")
    assert client.get("/chat").status_code == 200


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password2": "something else entirely"}, "password2", "The two passwords differ."),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"email": "not-an-email"}, "email", "valid email"),
    ],
)
def test_sign_up_explains_what_is_wrong(client, fields, field, message):
    response = sign_up(client, **fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not User.objects.exists()


def test_one_account_per_email(client, make_user):
    make_user(email="ada@example.com")
    response = sign_up(client, email="ADA@example.com")
    assert response.context["form"].errors["email"] == [
        "An account with this email already exists."
    ]


def test_log_in_without_case_then_log_out(client, make_user):
    make_user(email="ada@example.com")
    response = client.post("/login", {"username": "ADA@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/chat"
    assert client.get("/logout").status_code == 405  # logging out is a POST (CSRF-protected)
    assert client.post("/logout")["Location"] == "/"
    assert client.get("/chat")["Location"] == "/login?next=/chat"


def test_wrong_password_is_a_form_error(client, make_user):
    make_user(email="ada@example.com")
    response = client.post("/login", {"username": "ada@example.com", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_login_attempts_are_limited_per_ip(client, make_user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "token": "2/m"}
    make_user(email="ada@example.com")
    for _ in range(2):
        client.post("/login", {"username": "ada@example.com", "password": "nope"})
    response = client.post("/login", {"username": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_ups_are_limited_per_ip(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "1/h"}
    sign_up(client, email="one@example.com")
    client.logout()
    response = sign_up(client, email="two@example.com")
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert list(User.objects.values_list("email", flat=True)) == ["one@example.com"]


def test_pages_carry_a_strict_content_security_policy(client):
    for path in ("/", "/signup", "/login"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "object-src 'none'" in policy
