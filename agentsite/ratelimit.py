"""Rate limits kept in Redis (through Django's cache), so every process counts the same hits.

django-ratelimit does the counting (fixed windows); these DRF throttles turn its verdict into a
429 problem with Retry-After. Rates live in settings.RATE_LIMITS.
"""

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle


class RateLimitThrottle(BaseThrottle):
    """Counts a request against `settings.RATE_LIMITS[scope]`, keyed by `key` (ip, user...)."""

    scope: str = ""
    key: str = "ip"

    def allow_request(self, request, view) -> bool:
        usage = get_usage(
            request,
            group=f"throttle:{self.scope}",
            key=self.key,
            rate=settings.RATE_LIMITS[self.scope],
            increment=True,
        )
        self.time_left = usage["time_left"] if usage else 0
        return usage is None or not usage["should_limit"]

    def wait(self) -> float:
        return max(1, self.time_left)


class UserRateThrottle(RateLimitThrottle):
    """The default for every API view: per person, or per IP before they sign in."""

    scope = "user"
    key = "user_or_ip"


class RegisterRateThrottle(RateLimitThrottle):
    """Sign-ups per IP: slows account farming."""

    scope = "register"


class TokenRateThrottle(RateLimitThrottle):
    """Password attempts per IP: slows brute force."""

    scope = "token"


class PasswordResetRateThrottle(RateLimitThrottle):
    """Reset requests and confirmations per IP: slows mail flooding and link guessing."""

    scope = "password_reset"
