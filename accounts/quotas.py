"""The daily LLM token quota: how much a person may spend, has spent, and the check before a call.

Usage is counted per UTC day in the database (durable, shared by every process). The chat turn
calls `check_token_quota` before any LLM call and `record_token_usage` after it.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import F, Subquery, Value
from django.db.models.functions import Coalesce
from rest_framework import status
from rest_framework.exceptions import APIException

from accounts.models import DailyTokenUsage, User


class TokenQuotaExceeded(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "token_quota_exceeded"
    default_detail = "You have used today's token allowance; it resets at midnight UTC."

    def __init__(self, retry_after_seconds: int):
        super().__init__()
        self.wait = retry_after_seconds


def _today():
    return datetime.now(UTC).date()


def seconds_until_reset() -> int:
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1, int((midnight - now).total_seconds()))


def daily_quota(user: User) -> int:
    """The person's own quota, else the site default; 0 means unlimited."""
    if user.daily_token_quota is not None:
        return user.daily_token_quota
    return settings.DAILY_TOKEN_QUOTA


def _usage_today(user: User):
    return DailyTokenUsage.objects.filter(user=user, day=_today())


def tokens_used_today(user: User) -> int:
    return next(iter(_usage_today(user).values_list("tokens", flat=True)), 0)


def used_today_expression(user: User) -> Coalesce:
    """`tokens_used_today` as an expression, for a caller that reads it in its own query (a
    chat turn asks with its session: one round trip)."""
    return Coalesce(Subquery(_usage_today(user).values("tokens")[:1]), Value(0))


def check_token_quota(user: User, *, used: int | None = None) -> None:
    """Raise TokenQuotaExceeded (429 with Retry-After) when today's allowance is spent; `used`
    is today's count when the caller already read it."""
    quota = daily_quota(user)
    if not quota:
        return
    if (tokens_used_today(user) if used is None else used) >= quota:
        raise TokenQuotaExceeded(seconds_until_reset())


def record_token_usage(user: User, tokens: int) -> None:
    """Add tokens to today's count atomically (safe under concurrent turns)."""
    if tokens <= 0:
        return
    updated = _usage_today(user).update(tokens=F("tokens") + tokens)
    if not updated:
        usage, created = DailyTokenUsage.objects.get_or_create(
            user=user, day=_today(), defaults={"tokens": tokens}
        )
        if not created:
            DailyTokenUsage.objects.filter(pk=usage.pk).update(tokens=F("tokens") + tokens)
