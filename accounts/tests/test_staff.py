"""The staff role: the Staff group's permissions, `make_staff`, and what staff see in the admin."""

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.staff import STAFF_GROUP
from agents import services as chat
from agents.models import Message
from evaluation.models import EvaluationRun, EvaluationScore

pytestmark = pytest.mark.django_db
staff_group_migration = import_module("accounts.migrations.0002_staff_group")

STAFF_PERMISSIONS = {
    "agents.view_chatsession",
    "agents.view_message",
    "agents.view_llmcall",
    "memory.view_memory",
    "memory.delete_memory",
    "documents.view_document",
    "evaluation.view_evaluationscore",
    "evaluation.view_evaluationrun",
}
READABLE = [
    "/admin/agents/chatsession/",
    "/admin/agents/message/",
    "/admin/agents/llmcall/",
    "/admin/memory/memory/",
    "/admin/documents/document/",
    "/admin/evaluation/evaluationscore/",
    "/admin/evaluation/evaluationscore/pass-rate/",
    "/admin/evaluation/evaluationrun/",
    "/admin/dashboard/",
]
SUPERUSER_ONLY = [
    "/admin/accounts/user/",
    "/admin/auth/group/",
    "/admin/django_celery_beat/periodictask/",
    "/admin/token_blacklist/outstandingtoken/",
]


@pytest.fixture
def staff_member(make_user):
    member = make_user(email="staff@example.com")
    call_command("make_staff", "Staff@Example.com")
    member.refresh_from_db()
    return member


@pytest.fixture
def staff_member_client(client, staff_member):
    client.force_login(staff_member)
    return client


@pytest.fixture
def conversation(user, make_llm_call):
    """Ada's session with an answer, its score, a run and an LLM call."""
    session = chat.create_session(owner=user, title="Ada's trip")
    answer = Message.objects.create(session=session, role="assistant", content="Go to Lyon")
    run = EvaluationRun.objects.create(metrics=["relevance"])
    score = EvaluationScore.objects.create(
        message=answer,
        metric="relevance",
        rubric_version=1,
        judge_model="gpt-4o",
        direction="higher_is_better",
        status="ok",
        score=0.9,
        threshold=0.5,
        passed=True,
    )
    return session, answer, run, score, make_llm_call()


def test_the_migrations_function_makes_the_group_with_exactly_the_staff_permissions():
    """Called directly: a transactional test's flush elsewhere empties the migrated group."""
    Group.objects.filter(name=STAFF_GROUP).delete()
    staff_group_migration.create_staff_group(apps, schema_editor=None)
    group = Group.objects.get(name=STAFF_GROUP)
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert granted == STAFF_PERMISSIONS


def test_make_staff_sets_is_staff_and_the_group_and_is_idempotent(staff_member, capsys):
    call_command("make_staff", "staff@example.com")
    staff_member.refresh_from_db()
    assert staff_member.is_staff
    assert not staff_member.is_superuser
    assert list(staff_member.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    assert staff_member.get_all_permissions() == STAFF_PERMISSIONS
    assert "staff@example.com is staff" in capsys.readouterr().out


def test_make_staff_of_an_unknown_email_is_a_clear_error(db):
    with pytest.raises(CommandError, match=r"No account with the email 'nobody@example\.com'"):
        call_command("make_staff", "nobody@example.com")


def test_staff_see_the_staff_models_and_the_dashboard(staff_member_client, conversation):
    for url in READABLE:
        assert staff_member_client.get(url).status_code == 200, url
    index = staff_member_client.get("/admin/").content.decode()
    for name in ("Chat sessions", "Messages", "LLM calls", "Memories", "Evaluation runs"):
        assert name.lower() in index.lower(), name
    assert "Today at a glance" in index
    assert "/admin/accounts/user/" not in index


def test_staff_read_every_object_but_change_add_or_delete_none(staff_member_client, conversation):
    session, answer, run, score, call = conversation
    for kind, pk in [
        ("agents/chatsession", session.pk),
        ("agents/message", answer.pk),
        ("agents/llmcall", call.pk),
        ("evaluation/evaluationrun", run.pk),
        ("evaluation/evaluationscore", score.pk),
    ]:
        page = staff_member_client.get(f"/admin/{kind}/{pk}/change/")
        assert page.status_code == 200, kind
        assert page.context["has_change_permission"] is False
        assert staff_member_client.get(f"/admin/{kind}/add/").status_code == 403, kind
        assert staff_member_client.post(f"/admin/{kind}/{pk}/delete/").status_code == 403, kind
    assert Message.objects.filter(pk=answer.pk).exists()


def test_staff_see_nothing_of_the_superusers_models(staff_member_client):
    for url in SUPERUSER_ONLY:
        assert staff_member_client.get(url).status_code == 403, url


def test_is_staff_without_the_group_sees_no_model_and_no_dashboard(client, make_user):
    client.force_login(make_user(email="bare@example.com", is_staff=True))
    assert client.get("/admin/").status_code == 200
    for url in READABLE:
        assert client.get(url).status_code == 403, url


def test_superusers_keep_everything(staff_client, conversation):
    for url in READABLE + SUPERUSER_ONLY:
        assert staff_client.get(url).status_code == 200, url
    assert staff_client.get("/admin/agents/chatsession/add/").status_code == 403  # evidence
