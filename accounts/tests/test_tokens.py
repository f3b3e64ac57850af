"""Hostile tokens (crafted with PyJWT), and each log-in's family: reuse detection and logout."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from django.conf import settings

from accounts.models import TokenFamily, User
from accounts.tests.test_auth_api import PASSWORD, assert_problem, login

pytestmark = pytest.mark.django_db


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def signed(claims: dict, key=None, algorithm="HS256") -> str:
    return jwt.encode(claims, settings.SECRET_KEY if key is None else key, algorithm=algorithm)


def me(client, access: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/auth/me")


def refresh(client, token: str):
    return client.post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")


@pytest.fixture
def pair(api_client, user) -> dict:
    return login(api_client).json()


class TestHostileAccessTokens:
    def test_our_own_claims_re_signed_with_our_key_are_accepted(self, api_client, pair):
        """The control: the crafting itself is faithful, so each refusal below is the
        change it makes."""
        assert me(api_client, signed(claims_of(pair["access"]))).status_code == 200

    def test_alg_none(self, api_client, pair):
        unsigned = jwt.encode(claims_of(pair["access"]), None, algorithm="none")
        assert_problem(me(api_client, unsigned), 401, "token_not_valid")

    def test_none_header_on_a_real_signature(self, api_client, pair):
        _, payload, signature = pair["access"].split(".")
        none_head = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
        for forged in (f"{none_head}.{payload}.", f"{none_head}.{payload}.{signature}"):
            assert_problem(me(api_client, forged), 401, "token_not_valid")

    def test_signed_with_another_key(self, api_client, pair):
        other = signed(claims_of(pair["access"]), key="another-key-" + "x" * 60)
        assert_problem(me(api_client, other), 401, "token_not_valid")

    def test_our_key_but_another_algorithm(self, api_client, pair):
        other = signed(claims_of(pair["access"]), algorithm="HS512")
        assert_problem(me(api_client, other), 401, "token_not_valid")

    def test_expired(self, api_client, pair):
        claims = {**claims_of(pair["access"]), "exp": int(time.time()) - 1}
        assert_problem(me(api_client, signed(claims)), 401, "token_not_valid")

    def test_without_expiry(self, api_client, pair):
        claims = claims_of(pair["access"])
        del claims["exp"]
        assert_problem(me(api_client, signed(claims)), 401, "token_not_valid")

    def test_not_valid_before_a_time_in_the_future(self, api_client, pair):
        claims = {**claims_of(pair["access"]), "nbf": int(time.time()) + 3600}
        assert_problem(me(api_client, signed(claims)), 401, "token_not_valid")

    @pytest.mark.parametrize("token_type", ["refresh", "Access", "", None])
    def test_wrong_token_type(self, api_client, pair, token_type):
        claims = {**claims_of(pair["access"]), "token_type": token_type}
        assert_problem(me(api_client, signed(claims)), 401, "token_not_valid")

    def test_the_refresh_token_itself(self, api_client, pair):
        assert_problem(me(api_client, pair["refresh"]), 401, "token_not_valid")

    def test_a_deleted_account(self, api_client, pair, user):
        user.delete()
        assert_problem(me(api_client, pair["access"]), 401, "token_not_valid")

    def test_an_inactive_account(self, api_client, pair, user):
        User.objects.filter(pk=user.pk).update(is_active=False)
        assert_problem(me(api_client, pair["access"]), 401, "token_not_valid")

    def test_a_changed_password(self, api_client, pair, user):
        user.set_password("a brand new passphrase")
        user.save()
        assert_problem(me(api_client, pair["access"]), 401, "token_not_valid")
        assert_problem(refresh(api_client, pair["refresh"]), 401, "token_not_valid")


class TestHostileRefreshTokens:
    def test_alg_none_and_another_key(self, api_client, pair):
        claims = claims_of(pair["refresh"])
        for forged in (
            jwt.encode(claims, None, algorithm="none"),
            signed(claims, key="another-key-" + "x" * 60),
        ):
            assert_problem(refresh(api_client, forged), 401, "token_not_valid")
        assert refresh(api_client, pair["refresh"]).status_code == 200  # nothing was spent

    def test_expired_and_not_yet_valid(self, api_client, pair):
        claims = claims_of(pair["refresh"])
        for changed in ({"exp": int(time.time()) - 1}, {"nbf": int(time.time()) + 3600}):
            assert_problem(refresh(api_client, signed({**claims, **changed})), 401)

    def test_a_forged_family_cannot_adopt_a_token(self, api_client, pair, make_user):
        """Only our key signs a family claim; a re-signed copy with another key is refused
        before any family is looked at."""
        claims = {**claims_of(pair["refresh"]), "fam": str(TokenFamily.objects.get().pk)}
        assert_problem(refresh(api_client, signed(claims, key="k" * 64)), 401)


class TestReuseDetection:
    def test_a_rotated_token_presented_again_revokes_the_whole_family(self, api_client, pair):
        rotated = refresh(api_client, pair["refresh"]).json()
        assert me(api_client, rotated["access"]).status_code == 200

        assert_problem(refresh(api_client, pair["refresh"]), 401, "token_not_valid")  # replay

        assert_problem(refresh(api_client, rotated["refresh"]), 401, "token_not_valid")
        assert_problem(me(api_client, rotated["access"]), 401, "token_not_valid")
        assert_problem(me(api_client, pair["access"]), 401, "token_not_valid")
        family = TokenFamily.objects.get()
        assert family.revoked_reason == TokenFamily.Revoked.REUSE

    def test_the_thief_refreshing_first_loses_the_owners_session_too(self, api_client, pair):
        """Whoever comes second is the replay: the family ends, thief included."""
        thief = refresh(api_client, pair["refresh"]).json()
        assert_problem(refresh(api_client, pair["refresh"]), 401)  # the owner, too late
        assert_problem(me(api_client, thief["access"]), 401)
        assert_problem(refresh(api_client, thief["refresh"]), 401)

    def test_other_log_ins_of_the_person_are_untouched(self, api_client, user):
        phone, laptop = login(api_client).json(), login(api_client).json()
        refresh(api_client, phone["refresh"])
        refresh(api_client, phone["refresh"])  # reuse: the phone's family ends
        assert me(api_client, laptop["access"]).status_code == 200
        assert refresh(api_client, laptop["refresh"]).status_code == 200

    def test_a_long_chain_keeps_one_family(self, api_client, pair):
        current = pair
        for _ in range(3):
            current = refresh(api_client, current["refresh"]).json()
        assert TokenFamily.objects.count() == 1
        assert claims_of(current["access"])["fam"] == claims_of(pair["access"])["fam"]
        assert me(api_client, current["access"]).status_code == 200

    def test_a_token_minted_outside_a_log_in_starts_a_family(self, api_client, user):
        from rest_framework_simplejwt.tokens import RefreshToken

        loose = str(RefreshToken.for_user(user))
        rotated = refresh(api_client, loose).json()
        assert claims_of(rotated["refresh"])["fam"] == str(TokenFamily.objects.get().pk)
        assert_problem(refresh(api_client, loose), 401)  # a replay still fails


class TestLogout:
    def test_logout_ends_the_log_in_and_its_access_tokens(self, api_client, pair):
        response = api_client.post(
            "/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json"
        )
        assert response.status_code == 204
        assert_problem(me(api_client, pair["access"]), 401, "token_not_valid")
        assert_problem(refresh(api_client, pair["refresh"]), 401, "token_not_valid")
        assert TokenFamily.objects.get().revoked_reason == TokenFamily.Revoked.LOGOUT

    def test_logout_with_a_rotated_refresh_token_of_the_log_in(self, api_client, pair):
        rotated = refresh(api_client, pair["refresh"]).json()
        response = api_client.post(
            "/api/v1/auth/logout", {"refresh": rotated["refresh"]}, format="json"
        )
        assert response.status_code == 204
        assert_problem(me(api_client, rotated["access"]), 401)

    def test_logout_twice_is_401_and_changes_nothing_else(self, api_client, user):
        first, other = login(api_client).json(), login(api_client).json()
        api_client.post("/api/v1/auth/logout", {"refresh": first["refresh"]}, format="json")
        again = api_client.post("/api/v1/auth/logout", {"refresh": first["refresh"]}, format="json")
        assert_problem(again, 401, "token_not_valid")
        assert me(api_client, other["access"]).status_code == 200


def test_an_access_token_carries_only_these_claims(api_client, user):
    """`hash_password` is a digest of the salted hash (simplejwt's CHECK_REVOKE_TOKEN),
    never the password."""
    claims = claims_of(login(api_client, password=PASSWORD).json()["access"])
    assert PASSWORD not in str(claims)
    assert set(claims) == {"token_type", "exp", "iat", "jti", "user_id", "hash_password", "fam"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_spend_it_once_and_end_the_family(user):
    """Four requests race with one refresh token (the row locks serialize them): one gets a
    pair, the others are replays, so the family ends and the winner's pair dies with it."""
    from django.db import connection
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

    from accounts import services

    raw = str(services.issue_tokens(user))
    start = threading.Barrier(4)

    def spend():
        start.wait()
        try:
            return services.rotate_refresh_token(raw)
        except AuthenticationFailed:
            return None
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: spend(), range(4)))
    (winner,) = [result for result in results if result is not None]
    family = TokenFamily.objects.get()
    assert family.revoked_reason == TokenFamily.Revoked.REUSE
    assert BlacklistedToken.objects.filter(token__jti=winner["jti"]).exists()
