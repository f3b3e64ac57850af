"""Staff console for evaluation: runs with progress and per-metric summary, scores with
filters, and a chart of the pass rate per metric per day. Scores are evidence: read-only."""

from datetime import timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from agents.admin import ReadOnlyAdminMixin
from evaluation import charts, selectors
from evaluation.judges import RUBRICS
from evaluation.models import EvaluationRun, EvaluationScore

CHART_DAYS = 14


@admin.register(EvaluationRun)
class EvaluationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "trigger",
        "status",
        "progress",
        "judge_model",
        "requested_by",
        "finished_at",
    )
    list_filter = ("status", "trigger", "judge_model", "created_at")
    list_select_related = ("requested_by",)
    date_hierarchy = "created_at"
    fields = (
        "id",
        "trigger",
        "requested_by",
        "status",
        "progress",
        "judge_model",
        "metrics",
        "filters",
        "summary",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description="progress")
    def progress(self, run):
        return f"{run.done}/{run.total}"

    @admin.display(description="summary per metric (each on its own scale)")
    def summary(self, run):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    metric,
                    row["direction"].replace("_", " "),
                    "-" if row["mean"] is None else f"{row['mean']:.3f}",
                    row["passed"],
                    row["failed"],
                    row["errors"],
                )
                for metric, row in selectors.run_summary(run).items()
            ),
        )
        return format_html(
            "<table><thead><tr><th>metric</th><th>direction</th><th>mean</th><th>passed</th>"
            "<th>failed</th><th>errors</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


@admin.register(EvaluationScore)
class EvaluationScoreAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/evaluation/evaluationscore/change_list.html"
    list_display = (
        "created_at",
        "metric",
        "status",
        "score",
        "direction",
        "passed",
        "judge_model",
        "answer",
    )
    list_filter = ("metric", "passed", "status", "judge_model", "rubric_version", "created_at")
    search_fields = ("message__id", "reason", "trace_id")
    list_select_related = ("message",)
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in EvaluationScore._meta.fields]

    @admin.display(description="answer")
    def answer(self, score):
        url = reverse("admin:agents_message_change", args=[score.message_id])
        return format_html('<a href="{}">{}</a>', url, score.message.content[:60])

    def get_urls(self):
        chart = self.admin_site.admin_view(self.pass_rate_chart)
        return [
            path("pass-rate/", chart, name="evaluation_evaluationscore_pass_rate"),
            *super().get_urls(),
        ]

    def pass_rate_chart(self, request):
        """Pass rate per metric per day, over the last CHART_DAYS days (for those who may
        view scores)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.now().date()
        rates = selectors.daily_pass_rates(days=CHART_DAYS)
        series = [charts.Series(metric, rates[metric]) for metric in RUBRICS if metric in rates]
        svg = charts.line_chart(
            series, first_day=today - timedelta(days=CHART_DAYS - 1), last_day=today
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Pass rate per metric per day (last {CHART_DAYS} days)",
            "opts": self.model._meta,
            "chart": svg,
            "has_scores": bool(series),
        }
        return TemplateResponse(request, "admin/evaluation/pass_rate.html", context)
