"""The daily token quota: counted per UTC day in Postgres, checked before any LLM call."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.quotas import (
    TokenQuotaExceeded,
    check_token_quota,
    daily_quota,
    record_token_usage,
    tokens_used_today,
)

pytestmark = pytest.mark.django_db


def test_usage_accumulates(user):
    record_token_usage(user, 120)
    record_token_usage(user, 30)
    record_token_usage(user, 0)
    assert tokens_used_today(user) == 150


def test_site_default_and_personal_quota(user, settings):
    settings.DAILY_TOKEN_QUOTA = 1000
    assert daily_quota(user) == 1000
    user.daily_token_quota = 50
    assert daily_quota(user) == 50


def test_check_raises_429_with_retry_after_once_spent(user, settings):
    settings.DAILY_TOKEN_QUOTA = 100
    record_token_usage(user, 99)
    check_token_quota(user)
    record_token_usage(user, 1)
    with pytest.raises(TokenQuotaExceeded) as raised:
        check_token_quota(user)
    assert raised.value.status_code == 429
    assert 1 <= raised.value.wait <= 24 * 3600


def test_zero_quota_means_unlimited(user, settings):
    settings.DAILY_TOKEN_QUOTA = 0
    record_token_usage(user, 10**9)
    check_token_quota(user)


def test_usage_is_per_person(make_user):
    ada, bob = make_user(), make_user(email="bob@example.com")
    record_token_usage(ada, 500)
    assert tokens_used_today(bob) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_turns_lose_no_tokens(user):
    def spend(_):
        try:
            record_token_usage(user, 10)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(spend, range(40)))
    assert tokens_used_today(user) == 400
