"""Health probes, metrics access, request ids and problem responses outside DRF."""

import socket

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_live(client):
    response = client.get("/ops/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_everything_answers(client, llm):
    response = client.get("/ops/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "llm": "ok"},
    }


def test_ready_names_a_redis_outage(client, llm):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/ops/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "unavailable", "llm": "ok"}


def test_llm_outage_is_reported_but_keeps_the_web_tier_ready(client, llm, settings):
    settings.LLM_MODELS = f"sim-primary,down@http://127.0.0.1:{closed_port()}/v1"
    response = client.get("/ops/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["llm"] == "degraded"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{closed_port()}/v1"
    assert client.get("/ops/health/ready").json()["checks"]["llm"] == "unavailable"


def test_api_answers_503_problem_when_redis_is_down(auth_client):
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    with override_settings(CACHES=caches):
        response = auth_client.get("/api/v1/auth/me")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"


def test_ops_docs_are_served(client):
    assert client.get("/ops/docs").status_code == 200
    assert client.get("/ops/openapi.json").json()["info"]["title"] == "agentsite operations"


def test_api_schema_and_docs(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/auth/register" in paths
    assert "/api/v1/auth/me" in paths
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # served from our static files


class TestRequestIds:
    def test_generated_when_absent(self, client):
        request_id = client.get("/ops/health/live")["X-Request-ID"]
        assert len(request_id) == 32

    def test_echoed_when_sane(self, client):
        response = client.get("/ops/health/live", HTTP_X_REQUEST_ID="trace-abc.123")
        assert response["X-Request-ID"] == "trace-abc.123"

    def test_replaced_when_hostile(self, client):
        response = client.get("/ops/health/live", HTTP_X_REQUEST_ID='x"\n{"level":"ERROR"}')
        assert response["X-Request-ID"] != 'x"\n{"level":"ERROR"}'
        assert len(response["X-Request-ID"]) == 32

    def test_carried_into_problem_bodies(self, client):
        response = client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="req-42")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["request_id"] == "req-42"


def test_unknown_api_path_is_a_problem_but_pages_stay_html(client):
    assert client.get("/api/v1/nowhere")["Content-Type"] == "application/problem+json"
    assert client.get("/nowhere")["Content-Type"].startswith("text/html")


@pytest.mark.django_db  # the evaluation progress is read from the database at scrape time
class TestMetrics:
    def test_open_in_development(self, client):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert b"django_http_requests_total_by_method_total" in response.content

    def test_token_required_when_configured(self, client, settings):
        settings.METRICS_TOKEN = "s3cret-token"
        assert client.get("/metrics").status_code == 403
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
        assert ok.status_code == 200

    def test_networks_limit_scrapers_without_a_token(self, client, settings):
        settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
        assert client.get("/metrics").status_code == 403  # test client is 127.0.0.1
        assert client.get("/metrics", REMOTE_ADDR="10.9.8.7").status_code == 200
