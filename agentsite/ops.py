"""Operations endpoints (django-ninja, own OpenAPI at /ops/docs): health probes."""

from ninja import NinjaAPI, Schema, Status

from agentsite import health

api = NinjaAPI(
    title="agentsite operations",
    version="1.0.0",
    urls_namespace="ops",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


class LiveOut(Schema):
    status: str


class ReadyOut(Schema):
    status: str
    checks: dict[str, str]


@api.get("/health/live", response=LiveOut, tags=["health"])
def live(request):
    """200 while the process can answer at all."""
    return {"status": "ok"}


@api.get("/health/ready", response={200: ReadyOut, 503: ReadyOut}, tags=["health"])
def ready(request):
    """200 when the database and Redis answer; 503 naming the one that doesn't. The LLM check
    is reported too, but an LLM outage is the model ring's to absorb, not a reason to take the
    whole web tier out of rotation."""
    checks = health.readiness()
    healthy = all(checks[name] == "ok" for name in health.REQUIRED_CHECKS)
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return Status(200 if healthy else 503, body)
