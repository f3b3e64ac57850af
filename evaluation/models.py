"""What evaluation stores: runs of the LLM-as-judge, and one score per (message, metric,
rubric version, judge model)."""

import uuid

from django.conf import settings
from django.db import models


class Direction(models.TextChoices):
    """Which way a metric's raw score is good. Summaries are per metric, never across them."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class EvaluationRun(models.Model):
    """One grading job over a set of assistant messages."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        API = "api"
        SCHEDULE = "schedule"
        COMMAND = "command"
        ADMIN = "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="evaluation_runs",
    )
    filters = models.JSONField(default=dict, help_text="{since, limit, metrics, unscored_only}")
    metrics = models.JSONField(default=list, help_text="The metrics this run grades.")
    judge_model = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Messages to grade.")
    done = models.PositiveIntegerField(default=0, help_text="Messages graded (errors count).")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Run {self.id} ({self.status} {self.done}/{self.total})"


class EvaluationRunItem(models.Model):
    """One message of a run. `done` flips once, so a redelivered task never counts twice."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="items")
    message = models.ForeignKey("agents.Message", on_delete=models.CASCADE, related_name="+")
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "message"], name="eval_item_once_per_run")
        ]

    def __str__(self):
        return f"{self.message_id} in run {self.run_id} ({'done' if self.done else 'to do'})"


class EvaluationScore(models.Model):
    """A judge's verdict on one assistant message for one metric, or the error that stood in
    for it. Error rows hold no score and are never counted in summaries; a later run may
    replace them with a real score."""

    class Status(models.TextChoices):
        OK = "ok"
        ERROR = "error"  # the judge answered malformed JSON every time, or never answered

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(
        "agents.Message", on_delete=models.CASCADE, related_name="evaluation_scores"
    )
    run = models.ForeignKey(
        EvaluationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="scores"
    )
    metric = models.CharField(max_length=50)
    rubric_version = models.PositiveSmallIntegerField()
    judge_model = models.CharField(max_length=200, help_text="The configured judge (the key).")
    answered_by = models.CharField(
        max_length=200, blank=True, help_text="The model that answered (after any fallback)."
    )
    direction = models.CharField(max_length=20, choices=Direction.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    score = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    passed = models.BooleanField(null=True, blank=True)
    reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    trace_id = models.CharField(max_length=64, blank=True, help_text="Langfuse trace scored.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "metric", "rubric_version", "judge_model"],
                name="eval_score_once_per_judge",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="ok", score__gte=0, score__lte=1, passed__isnull=False)
                    | models.Q(status="error", score__isnull=True, passed__isnull=True)
                ),
                name="eval_score_ok_has_score_error_has_none",
            ),
        ]
        indexes = [models.Index(fields=["metric", "created_at"])]

    def __str__(self):
        return f"{self.metric} v{self.rubric_version} {self.status} {self.score}"
