"""Log-in back-off per account and per address, over the API and the web form (Redis counters)."""

import pytest
from django.core.cache import cache

from accounts.tests.test_auth_api import PASSWORD, assert_problem

pytestmark = pytest.mark.django_db

WRONG = "not the password"


@pytest.fixture(autouse=True)
def backoff(settings):
    settings.LOGIN_FREE_FAILURES_ACCOUNT = 2
    settings.LOGIN_FREE_FAILURES_IP = 4
    settings.LOGIN_LOCK_SECONDS = 30
    settings.LOGIN_LOCK_MAX_SECONDS = 120
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "token": "1000/m"}


def attempt(client, password=WRONG, email="ada@example.com", ip="10.0.0.1"):
    return client.post(
        "/api/v1/auth/token", {"email": email, "password": password}, format="json", REMOTE_ADDR=ip
    )


def locks_run_out():
    """Stands for the time passing: the locks' keys go (in Redis), the failure counts stay."""
    redis = cache._cache.get_client()
    for key in redis.scan_iter(match="*login:*:lock"):
        redis.delete(key)


def retry_after(response) -> int:
    assert_problem(response, 429, "rate_limited")
    return int(response["Retry-After"])


class TestPerAccount:
    def test_the_lock_doubles_with_each_failure_up_to_the_cap(self, api_client, user):
        """Each guess from another address: it is the account that backs off."""
        waits = []
        for n in range(6):
            assert attempt(api_client, ip=f"10.0.1.{n}").status_code == 401
            if n >= 1:  # the second failure used the free ones up
                waits.append(retry_after(attempt(api_client, PASSWORD, ip=f"10.0.2.{n}")))
                locks_run_out()
        assert waits == [30, 60, 120, 120, 120]

    def test_while_locked_even_the_right_password_is_refused_and_nothing_counts(
        self, api_client, user
    ):
        attempt(api_client)
        attempt(api_client)
        first = retry_after(attempt(api_client, PASSWORD))
        for _ in range(5):
            assert retry_after(attempt(api_client)) <= first  # refused, not counted
        locks_run_out()
        assert attempt(api_client, PASSWORD).status_code == 200

    def test_a_successful_log_in_clears_the_accounts_failures(self, api_client, user):
        attempt(api_client)
        assert attempt(api_client, PASSWORD).status_code == 200
        assert attempt(api_client, ip="10.9.9.9").status_code == 401  # counts from zero again
        assert attempt(api_client, PASSWORD, ip="10.9.9.8").status_code == 200

    def test_the_email_is_normalized(self, api_client, user):
        attempt(api_client, email="ADA@example.com")
        attempt(api_client, email="Ada@Example.COM")
        retry_after(attempt(api_client, PASSWORD, email="ada@example.com"))

    def test_an_unknown_email_backs_off_exactly_alike(self, api_client, user):
        """No enumeration: the answers for an account and for no account are the same."""
        answers = {}
        for email in ("ada@example.com", "nobody@example.com"):
            statuses = [attempt(api_client, email=email).status_code for _ in range(3)]
            answers[email] = (statuses, attempt(api_client, email=email)["Retry-After"])
            locks_run_out()
        assert answers["ada@example.com"] == answers["nobody@example.com"]
        assert answers["ada@example.com"][0] == [401, 401, 429]


class TestLockingTheOwnerOut:
    def test_the_owners_known_network_is_not_locked_by_someone_elses_guesses(
        self, api_client, user
    ):
        assert attempt(api_client, PASSWORD, ip="192.0.2.10").status_code == 200  # at home
        for _ in range(3):
            attempt(api_client, ip="203.0.113.66")  # the attacker
        retry_after(attempt(api_client, PASSWORD, ip="203.0.113.66"))
        retry_after(attempt(api_client, PASSWORD, ip="198.51.100.1"))  # a new network waits
        assert attempt(api_client, PASSWORD, ip="192.0.2.10").status_code == 200


class TestPerAddress:
    def test_one_address_guessing_many_accounts_backs_off(self, api_client, make_user):
        for n in range(4):
            assert attempt(api_client, email=f"p{n}@example.com").status_code == 401
        make_user(email="fresh@example.com")
        wait = retry_after(attempt(api_client, PASSWORD, email="fresh@example.com"))
        assert wait == 30
        other = attempt(api_client, PASSWORD, email="fresh@example.com", ip="10.7.7.7")
        assert other.status_code == 200

    def test_a_success_does_not_clear_the_addresss_failures(self, api_client, make_user):
        make_user(email="mine@example.com")
        for n in range(3):
            attempt(api_client, email=f"victim{n}@example.com")
        assert attempt(api_client, PASSWORD, email="mine@example.com").status_code == 200
        attempt(api_client, email="victim9@example.com")
        retry_after(attempt(api_client, PASSWORD, email="mine@example.com"))


class TestWebForm:
    def post(self, client, password, email="ada@example.com"):
        return client.post("/login", {"username": email, "password": password})

    def test_the_form_backs_off_too_and_shares_the_apis_counts(self, client, api_client, user):
        attempt(api_client, ip="127.0.0.1")  # the test client's address
        self.post(client, WRONG)
        response = self.post(client, PASSWORD)
        assert response.status_code == 429
        assert int(response["Retry-After"]) == 30
        assert "Too many failed log-ins" in response.content.decode()
        assert "_auth_user_id" not in client.session
        retry_after(attempt(api_client, PASSWORD, ip="10.3.3.3"))

    def test_a_web_log_in_clears_the_accounts_failures(self, client, api_client, user):
        self.post(client, WRONG)
        assert self.post(client, PASSWORD).status_code == 302
        assert attempt(api_client, ip="10.4.4.4").status_code == 401
        assert attempt(api_client, PASSWORD, ip="10.4.4.5").status_code == 200

    def test_a_blank_form_is_not_a_failure(self, client, user):
        for _ in range(3):
            assert self.post(client, "").status_code == 200
        assert self.post(client, PASSWORD).status_code == 302
