"""The staff dashboard in the admin: today's turns, tokens, cost, fallbacks, evaluations.

Registered under /admin/dashboard/ through `admin.site.admin_view` (staff only, the admin's
login) and linked from the admin index. "Today" is the current UTC day.
"""

from datetime import UTC, datetime, time

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from agents.selectors import usage_since

try:
    from evaluation.selectors import pass_rates_since
except ImportError:  # the evaluation models are not merged yet (issue 6)
    pass_rates_since = None


def start_of_today() -> datetime:
    return datetime.combine(timezone.now().date(), time.min, tzinfo=UTC)


def dashboard(request):
    since = start_of_today()
    context = {
        **admin.site.each_context(request),
        "title": "Today at a glance",
        "since": since,
        "usage": usage_since(since),
        "pass_rates": pass_rates_since(since) if pass_rates_since else None,
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
