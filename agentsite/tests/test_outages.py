"""A real server whose database is gone: probes say which, the API answers 503 problems."""

import httpx
import pytest

from agentsite.tests.test_ops import closed_port


@pytest.fixture
def server_without_database(asgi_server):
    dead = f"postgres://agentsite:x@127.0.0.1:{closed_port()}/agentsite"
    return asgi_server(env={"DATABASE_URL": dead, "DB_POOL_TIMEOUT": "1"}).url


def test_ready_reports_the_database(server_without_database):
    response = httpx.get(f"{server_without_database}/ops/health/ready", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert (body["checks"]["database"], body["checks"]["redis"]) == ("unavailable", "ok")


def test_api_gives_503_problem_not_a_500_page(server_without_database):
    response = httpx.post(
        f"{server_without_database}/api/v1/auth/token",
        json={"email": "ada@example.com", "password": "whatever it is"},
        headers={"X-Request-ID": "outage-1"},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["request_id"] == "outage-1"
    assert "Traceback" not in response.text
