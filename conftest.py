"""Fixtures shared by every app's tests: the embedded test stack, API clients, users."""

import os

import pytest

from agentsite import embedded


def pytest_configure(config):
    """Start the embedded Postgres + Valkey on the test ports unless real URLs are given."""
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        embedded.ensure_running("test")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and breaker state live in Redis: each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def make(email="ada@example.com", password="correct horse battery staple", **fields):
        return User.objects.create_user(email, password, **fields)

    return make


@pytest.fixture
def user(make_user):
    return make_user()


def bearer(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return f"Bearer {RefreshToken.for_user(user).access_token}"


@pytest.fixture
def auth_client(api_client, user):
    """An API client signed in as `user` with a JWT access token."""
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return api_client
