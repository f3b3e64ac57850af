"""The evaluation API: staff only, API.md's run DTO."""

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from evaluation import services
from evaluation.judges import METRICS
from evaluation.models import EvaluationRun, EvaluationScore

RUNS = "/api/v1/evaluations/runs"
RUN_KEYS = {"id", "status", "created_at", "finished_at", "progress", "summary"}


@pytest.fixture
def staff_client(api_client, staff_user):
    token = RefreshToken.for_user(staff_user).access_token
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", RUNS), ("post", RUNS), ("get", f"{RUNS}/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12)],
)
def test_only_staff_may_use_the_evaluation_api(api_client, auth_client, method, path):
    anonymous = getattr(api_client.__class__(), method)(path, {}, format="json")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    member = getattr(auth_client, method)(path, {}, format="json")
    assert member.status_code == 403
    assert EvaluationRun.objects.count() == 0


@pytest.mark.django_db
def test_staff_start_a_run_and_get_api_md_s_dto(
    staff_client, answers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = staff_client.post(
            RUNS, {"since": "2h", "limit": 5, "metrics": ["toxicity", "relevance"]}, format="json"
        )
    assert response.status_code == 202
    body = response.json()
    assert set(body) == RUN_KEYS
    assert body["status"] == "queued"
    assert body["finished_at"] is None
    assert body["progress"] == {"done": 0, "total": 5}
    assert body["summary"] == {
        "toxicity": {
            "direction": "lower_is_better",
            "mean": None,
            "passed": 0,
            "failed": 0,
            "errors": 0,
        },
        "relevance": {
            "direction": "higher_is_better",
            "mean": None,
            "passed": 0,
            "failed": 0,
            "errors": 0,
        },
    }
    assert len(queued) == 1  # the start task, once the run is committed
    run = EvaluationRun.objects.get()
    assert run.trigger == "api"
    assert run.requested_by.email == "staff@example.com"
    assert run.filters == {
        "since_seconds": 7200,
        "limit": 5,
        "metrics": ["toxicity", "relevance"],
        "unscored_only": False,
        "sample": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "0h"}, "since"),
        ({"since": "400d"}, "since"),
        ({"limit": 0}, "limit"),
        ({"metrics": ["accuracy"]}, "metrics"),
        ({"metrics": []}, "metrics"),
        ({"model": "gpt-4o"}, "model"),
    ],
)
def test_bad_input_is_a_400_that_changes_nothing(staff_client, payload, field):
    response = staff_client.post(RUNS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert EvaluationRun.objects.count() == 0


@pytest.mark.django_db
def test_runs_are_listed_newest_first_and_one_run_has_its_summary(staff_client, answers):
    older = services.create_run(
        trigger="schedule", since=__import__("datetime").timedelta(hours=1), metrics=["toxicity"]
    )
    newer = services.create_run(trigger="command", since=__import__("datetime").timedelta(hours=1))
    for answer, score in ((answers["case-001"], 0.1), (answers["case-027"], 0.9)):
        EvaluationScore.objects.create(
            message=answer,
            metric="toxicity",
            rubric_version=1,
            judge_model=older.judge_model,
            direction="lower_is_better",
            status="ok",
            score=score,
            threshold=0.5,
            passed=score <= 0.5,
            reason="r",
        )
    page = staff_client.get(RUNS).json()
    assert page["count"] == 2
    assert [run["id"] for run in page["results"]] == [str(newer.pk), str(older.pk)]
    detail = staff_client.get(f"{RUNS}/{older.pk}").json()
    assert set(detail) == RUN_KEYS
    assert detail["summary"] == {
        "toxicity": {
            "direction": "lower_is_better",
            "mean": 0.5,
            "passed": 1,
            "failed": 1,
            "errors": 0,
        }
    }
    assert set(staff_client.get(f"{RUNS}/{newer.pk}").json()["summary"]) == set(METRICS)
    missing = staff_client.get(f"{RUNS}/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
