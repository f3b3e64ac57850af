"""The OpenAPI schema tells the truth: problem answers, closed inputs, the server's limits."""

import pytest

from agentsite.sanitize import visible_character_pattern
from evaluation.durations import parse_duration, whole_numbers_up_to

pytestmark = pytest.mark.django_db

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def problems(operation) -> set[int]:
    return {
        int(status)
        for status, response in operation["responses"].items()
        if response.get("content", {}).get("application/problem+json", {}).get("schema")
        == {"$ref": PROBLEM_REF}
    }


def test_every_operation_documents_its_problems_with_the_one_problem_schema(schema):
    expected = {
        "POST /api/v1/auth/register": {400, 409, 413, 415, 429, 503},
        "POST /api/v1/auth/token": {400, 401, 413, 415, 429, 503},
        "GET /api/v1/auth/me": {401, 429, 503},
        "POST /api/v1/auth/password/change": {400, 401, 403, 413, 415, 429, 503},
        "POST /api/v1/auth/password/reset": {400, 413, 415, 429, 503},
        "POST /api/v1/auth/password/reset/confirm": {400, 403, 413, 415, 429, 503},
        "DELETE /api/v1/auth/me": {401, 403, 429, 503},
        "GET /api/v1/sessions": {400, 401, 404, 429, 503},
        "PATCH /api/v1/sessions/{session_id}": {400, 401, 403, 404, 413, 415, 429, 503},
        "POST /api/v1/sessions/{session_id}/messages": {400, 401, 403, 404, 413, 415, 429, 503},
        "POST /api/v1/evaluations/runs": {400, 401, 403, 413, 415, 429, 503},
        "GET /api/v1/evaluations/runs/{run_id}": {401, 403, 404, 429, 503},
        "GET /api/v1/documents": {400, 401, 404, 429, 503},
        "POST /api/v1/documents": {400, 401, 403, 413, 415, 429, 503},
        "GET /api/v1/documents/{document_id}": {401, 404, 429, 503},
        "DELETE /api/v1/documents/{document_id}": {401, 403, 404, 429, 503},
    }
    documented = dict(operations(schema))
    for name, statuses in expected.items():
        assert problems(documented[name]) == statuses, name
    for name, operation in documented.items():
        assert 503 in problems(operation), name
    retry_after = documented["GET /api/v1/sessions"]["responses"]["429"]["headers"]
    assert "Retry-After" in retry_after
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "code",
        "request_id",
    }


def test_inputs_are_closed_and_state_the_servers_limits(schema):
    components = schema["components"]["schemas"]
    closed = ("RegisterRequest", "SessionCreateRequest", "RunCreateRequest", "RefreshRequest")
    closed += ("PasswordChangeRequest", "PasswordResetRequest", "PasswordResetConfirmRequest")
    for name in closed:
        assert components[name]["additionalProperties"] is False, name
    for name, field in [
        ("RegisterRequest", "password"),
        ("PasswordChangeRequest", "new_password"),
        ("PasswordResetConfirmRequest", "new_password"),
    ]:
        password = components[name]["properties"][field]
        assert password["minLength"] == 8
        assert password["pattern"] == r"^[^\u0000]*[^0-9\u0000][^\u0000]*$"
    refresh = components["RefreshRequest"]["properties"]["refresh"]
    assert refresh["pattern"] == "^[^\\u0000]*$"
    email = components["RegisterRequest"]["properties"]["email"]
    assert email["format"] == "email"
    assert email["pattern"] == r"\.[A-Za-z0-9-]+[A-Za-z0-9]$"  # Django's 2+ character end
    content = components["MessageCreateRequest"]["properties"]["content"]
    assert content["pattern"] == visible_character_pattern()
    since = components["RunCreateRequest"]["properties"]["since"]["pattern"]
    assert since.startswith("^")
    sessions = dict(operations(schema))["GET /api/v1/sessions"]["parameters"]
    by_name = {parameter["name"]: parameter["schema"] for parameter in sessions}
    assert by_name["page"] == {"type": "integer", "minimum": 1}
    assert by_name["page_size"] == {"type": "integer", "minimum": 1, "maximum": 100}


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=abc", "page=", "page=1.0", "page_size=0", "page_size=101", "page_size="],
)
def test_pagination_refuses_what_the_schema_does_not_allow(auth_client, query):
    response = auth_client.get(f"/api/v1/sessions?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_pagination_says_the_range_it_wants(auth_client):
    page = auth_client.get("/api/v1/sessions?page=0").json()["errors"]
    size = auth_client.get("/api/v1/sessions?page_size=101").json()["errors"]
    assert (page, size) == (
        {"page": ["Must be at least 1."]},
        {"page_size": ["Must be from 1 to 100."]},
    )


def test_a_page_past_the_last_is_404_and_a_patch_of_nothing_changes_nothing(auth_client):
    assert auth_client.get("/api/v1/sessions?page=2&page_size=100").status_code == 404
    session = auth_client.post("/api/v1/sessions", {"title": "Kept"}, format="json").json()
    patched = auth_client.patch(f"/api/v1/sessions/{session['id']}", {}, format="json")
    assert patched.status_code == 200
    assert patched.json()["title"] == "Kept"


def test_a_title_is_measured_as_sent(auth_client):
    response = auth_client.post("/api/v1/sessions", {"title": "\x1d" + "*" * 200}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("limit", [1, 9, 10, 90, 2160, 129600])
def test_whole_numbers_up_to_matches_exactly_one_to_the_limit(limit):
    import re

    pattern = re.compile(f"^{whole_numbers_up_to(limit)}$")
    assert [n for n in range(limit * 10 + 20) if pattern.match(str(n))] == list(range(1, limit + 1))


@pytest.mark.parametrize("text", ["91d", "2161h", "129601m", "1000000s", "0h", "01h", " 1h", "1"])
def test_durations_outside_the_pattern_are_refused(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
