"""The staff dashboard in the admin: today's turns, tokens, cost, fallbacks, evaluations.

Registered under /admin/dashboard/ through `admin.site.admin_view` (staff only, the admin's
login) and linked from the admin index, for those who may view LLM calls (the Staff group,
superusers): the figures are made of them. "Today" is the current UTC day.
"""

from datetime import UTC, datetime, time

from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse
from django.utils import timezone

from agents.selectors import usage_since
from evaluation.selectors import daily_pass_rates


def start_of_today() -> datetime:
    return datetime.combine(timezone.now().date(), time.min, tzinfo=UTC)


def todays_pass_rates(today) -> list[dict]:
    """Per metric graded today: {metric, rate, graded}, from the evaluation app's daily rates."""
    return [
        {"metric": metric, "rate": rate, "graded": graded}
        for metric, days in sorted(daily_pass_rates(days=1).items())
        for day, rate, graded in days
        if day == today
    ]


@permission_required("agents.view_llmcall", raise_exception=True)
def dashboard(request):
    since = start_of_today()
    context = {
        **admin.site.each_context(request),
        "title": "Today at a glance",
        "since": since,
        "usage": usage_since(since),
        "pass_rates": todays_pass_rates(since.date()),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
