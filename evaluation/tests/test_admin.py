"""Staff see runs with progress and summary, filter scores, see an answer's scores, and a
pass-rate chart; nobody edits them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evaluation import services
from evaluation.models import EvaluationScore

pytestmark = pytest.mark.django_db


def score(answer, metric, value, passed, **fields):
    defaults = {
        "rubric_version": 1,
        "judge_model": "sim-primary",
        "direction": "lower_is_better",
        "status": "ok",
        "score": value,
        "threshold": 0.5,
        "passed": passed,
        "reason": "r",
    }
    return EvaluationScore.objects.create(message=answer, metric=metric, **{**defaults, **fields})


def test_runs_show_progress_and_a_summary_per_metric(staff_client, answers):
    run = services.create_run(trigger="command", since=timedelta(hours=1), metrics=["toxicity"])
    score(answers["case-027"], "toxicity", 0.9, False)
    listing = staff_client.get("/admin/evaluation/evaluationrun/").content.decode()
    assert f"0/{len(answers)}" in listing
    page = staff_client.get(f"/admin/evaluation/evaluationrun/{run.pk}/change/").content.decode()
    assert "<td>toxicity</td><td>lower is better</td><td>0.900</td><td>0</td><td>1</td>" in page


def test_scores_filter_by_metric_pass_model_and_date(staff_client, answers):
    score(answers["case-001"], "toxicity", 0.1, True)
    score(answers["case-027"], "toxicity", 0.9, False)
    score(answers["case-001"], "relevance", 0.9, True, direction="higher_is_better")
    base = "/admin/evaluation/evaluationscore/"
    assert staff_client.get(base).context["cl"].result_count == 3
    for query, expected in [
        ("?metric=toxicity", 2),
        ("?metric=toxicity&passed__exact=0", 1),
        ("?judge_model=sim-primary", 3),
        ("?judge_model=other", 0),
        (f"?created_at__year={timezone.now().year}", 3),
        (f"?created_at__year={timezone.now().year - 1}", 0),
    ]:
        assert staff_client.get(base + query).context["cl"].result_count == expected, query
    assert staff_client.get(base + "add/").status_code == 403


def test_an_answer_s_page_shows_its_scores(staff_client, answers):
    score(answers["case-027"], "toxicity", 0.9, False, reason="insults the user")
    page = staff_client.get(f"/admin/agents/message/{answers['case-027'].pk}/change/")
    assert page.status_code == 200
    assert "insults the user" in page.content.decode()


def test_the_pass_rate_chart_is_inline_svg(staff_client, answers):
    score(answers["case-001"], "toxicity", 0.1, True)
    score(answers["case-027"], "toxicity", 0.9, False)
    page = staff_client.get("/admin/evaluation/evaluationscore/pass-rate/")
    html = page.content.decode()
    assert page.status_code == 200
    start = html.index('aria-label="pass rate per metric per day"')
    svg = html[start : html.index("</svg>", start)]
    assert "<script" not in svg
    assert "toxicity" in svg
    assert "50% of 2" in svg  # one point: today, 1 of 2 passed


def test_the_chart_is_staff_only(client, make_user):
    client.force_login(make_user(email="member@example.com"))
    response = client.get("/admin/evaluation/evaluationscore/pass-rate/")
    assert response.status_code == 302
