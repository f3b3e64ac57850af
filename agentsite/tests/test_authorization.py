"""Who may reach what: every HTTP endpoint x every kind of caller, one expected status each.

Person A owns a session (with a turn), a memory, a document and nothing else; B is another
person; staff is a member of the Staff group (not a superuser); "inactive" is a deactivated
account; "deleted" presents the access token an account had before it was deleted (still
unexpired). API callers send their access token (a bad one is a 401 even where none is
needed); pages and the admin are cookie-signed-in where a session applies (nobody but A, B and
staff can sign in). No 2xx of anyone but A holds the id of A's session, memory or document,
except the admin's pages for staff: reading them is the Staff role.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as accounts
from agents.models import ChatSession
from documents import services as documents
from evaluation.models import EvaluationRun
from memory import services as memories
from memory.models import Memory
from memory.tests.conftest import extraction, say

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = ("anonymous", "A", "B", "staff", "inactive", "deleted")

# (method, path, expected status per caller in CALLERS order). {session}, {memory},
# {document} and {run} are A's session, memory and document, and an evaluation run.
MATRIX = [
    ("GET", "/api/v1/auth/me", (401, 200, 200, 200, 401, 401)),
    ("POST", "/api/v1/auth/password/change", (401, 200, 200, 200, 401, 401)),  # one's own
    ("POST", "/api/v1/auth/password/reset", (202, 202, 202, 202, 202, 202)),  # needs no token
    ("POST", "/api/v1/auth/password/reset/confirm", (403, 403, 403, 403, 403, 403)),  # no link
    ("GET", "/api/v1/sessions", (401, 200, 200, 200, 401, 401)),
    ("POST", "/api/v1/sessions", (401, 201, 201, 201, 401, 401)),
    ("GET", "/api/v1/sessions/{session}", (401, 200, 404, 404, 401, 401)),
    ("PATCH", "/api/v1/sessions/{session}", (401, 200, 404, 404, 401, 401)),
    ("GET", "/api/v1/sessions/{session}/messages", (401, 200, 404, 404, 401, 401)),
    ("POST", "/api/v1/sessions/{session}/messages", (401, 201, 404, 404, 401, 401)),
    ("DELETE", "/api/v1/sessions/{session}", (401, 204, 404, 404, 401, 401)),
    ("GET", "/api/v1/memories", (401, 200, 200, 200, 401, 401)),
    ("GET", "/api/v1/memories/{memory}", (401, 405, 405, 405, 401, 401)),  # listed, not read
    ("DELETE", "/api/v1/memories/{memory}", (401, 204, 404, 404, 401, 401)),
    ("GET", "/api/v1/documents", (401, 200, 200, 200, 401, 401)),
    ("POST", "/api/v1/documents", (401, 201, 201, 201, 401, 401)),
    ("GET", "/api/v1/documents/{document}", (401, 200, 404, 404, 401, 401)),
    ("DELETE", "/api/v1/documents/{document}", (401, 204, 404, 404, 401, 401)),
    ("GET", "/api/v1/evaluations/runs", (401, 403, 403, 200, 401, 401)),
    ("GET", "/api/v1/evaluations/runs/{run}", (401, 403, 403, 200, 401, 401)),
    ("GET", "/api/v1/schema", (200, 200, 200, 200, 401, 401)),  # a bad token is refused
    ("GET", "/ops/health/live", (200, 200, 200, 200, 200, 200)),
    ("GET", "/ops/health/ready", (200, 200, 200, 200, 200, 200)),
    ("GET", "/metrics", (403, 403, 403, 403, 403, 403)),  # only METRICS_TOKEN, as deployed
    ("GET", "/", (200, 200, 200, 200, 200, 200)),
    ("GET", "/chat", (302, 200, 200, 200, 302, 302)),
    ("GET", "/admin/", (302, 302, 302, 200, 302, 302)),
    ("GET", "/admin/dashboard/", (302, 302, 302, 200, 302, 302)),
    ("GET", "/admin/agents/chatsession/", (302, 302, 302, 200, 302, 302)),
    ("GET", "/admin/documents/document/", (302, 302, 302, 200, 302, 302)),
    ("GET", "/admin/accounts/user/", (302, 302, 302, 403, 302, 302)),
]
ROWS = [
    pytest.param(method, path, statuses, id=f"{method} {path}") for method, path, statuses in MATRIX
]


@pytest.fixture
def world(make_user, llm, settings):
    """A's data and the other callers; metrics protected by a token, as in production."""
    settings.METRICS_TOKEN = "scraper-only"
    a, b = make_user("a@example.com"), make_user("b@example.com")
    staff = make_user("staff@example.com", is_staff=True)
    call_command("make_staff", staff.email)
    inactive = make_user("inactive@example.com", is_active=False)
    gone = make_user("gone@example.com")
    gone_token = str(RefreshToken.for_user(gone).access_token)
    accounts.delete_user(gone)
    session = ChatSession.objects.create(owner=a)
    llm.set_rules([extraction("about me", "User lives in Paris")])
    memories.remember_message(say(a, "Something about me").pk)
    run = EvaluationRun.objects.create(trigger=EvaluationRun.Trigger.ADMIN, judge_model="judge")
    document = documents.upload_document(a, name="notes.txt", data=b"A's own notes.")
    return {
        "ids": {
            "session": session.pk,
            "memory": Memory.objects.owned_by(str(a.pk)).get().pk,
            "document": document.pk,
            "run": run.pk,
        },
        "users": {"A": a, "B": b, "staff": staff, "inactive": inactive},
        "gone_token": gone_token,
    }


def client_for(caller: str, world) -> APIClient:
    client = APIClient()
    user = world["users"].get(caller)
    if caller == "deleted":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['gone_token']}")
    elif user is not None:
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        if user.is_active:
            client.force_login(user)  # the pages' and the admin's cookie session
    return client


NEW_PASSWORD = "a brand new passphrase"
BODIES = {
    ("POST", "/api/v1/auth/password/change"): {
        "current_password": "correct horse battery staple",
        "new_password": NEW_PASSWORD,
    },
    ("POST", "/api/v1/auth/password/reset"): {"email": "a@example.com"},
    ("POST", "/api/v1/auth/password/reset/confirm"): {
        "uid": "QQ",
        "token": "not-a-token",
        "new_password": NEW_PASSWORD,
    },
    ("POST", "/api/v1/sessions"): {},
    ("PATCH", "/api/v1/sessions/{session}"): {"title": "Renamed"},
    ("POST", "/api/v1/sessions/{session}/messages"): {"content": "hello there"},
}


def send(client: APIClient, method: str, path: str, url: str):
    """The request with its body: JSON, or a small text file for an upload."""
    if (method, path) == ("POST", "/api/v1/documents"):
        upload = SimpleUploadedFile("upload.txt", b"Some text to index.")
        return client.post(url, {"file": upload}, format="multipart")
    body = BODIES.get((method, path))
    data = "" if body is None else json.dumps(body)
    return client.generic(method, url, data, "application/json")


@pytest.mark.parametrize(("method", "path", "statuses"), ROWS)
def test_each_caller_gets_the_expected_status(world, method, path, statuses):
    """One world per endpoint; the callers that may succeed go last, as a DELETE or a turn
    that succeeds changes what the others would see."""
    url = path.format(**world["ids"])
    expected = dict(zip(CALLERS, statuses, strict=True))
    got = {}
    for caller in sorted(CALLERS, key=lambda c: 200 <= expected[c] < 300):
        response = send(client_for(caller, world), method, path, url)
        got[caller] = response.status_code
        staff_in_admin = caller == "staff" and path.startswith("/admin/")
        if caller != "A" and not staff_in_admin and response.status_code < 300:
            body_text = response.content.decode()
            assert str(world["ids"]["session"]) not in body_text, caller
            assert str(world["ids"]["memory"]) not in body_text, caller
            assert str(world["ids"]["document"]) not in body_text, caller
    assert got == expected
