"""Evaluation DTOs: the run as API.md gives it, and the input that starts one."""

from rest_framework import serializers

from agentsite.serializers import RejectUnknownFieldsMixin
from evaluation import selectors
from evaluation.durations import DURATION_PATTERN, parse_duration
from evaluation.judges import METRICS
from evaluation.models import EvaluationRun

MAX_RUN_LIMIT = 10_000


class RunCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    since = serializers.RegexField(
        DURATION_PATTERN,
        required=False,
        default="1h",
        error_messages={"invalid": "A duration from 1s to 90d, like 30m, 1h or 7d."},
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_RUN_LIMIT)
    metrics = serializers.ListField(
        child=serializers.ChoiceField(choices=METRICS), required=False, min_length=1
    )

    def validate_since(self, value):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_metrics(self, value):
        return list(dict.fromkeys(value))  # one of each, in the order given


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class RunSerializer(serializers.ModelSerializer):
    """`summary` is per metric, each on its own scale: `direction` says which way is good."""

    progress = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationRun
        fields = ["id", "status", "created_at", "finished_at", "progress", "summary"]
        read_only_fields = fields

    def get_progress(self, run) -> dict:
        return ProgressSerializer({"done": run.done, "total": run.total}).data

    def get_summary(self, run) -> dict:
        return selectors.run_summary(run)
