"""API authentication: the JWT bearer, and the browser's session cookie with its CSRF token.

JWT: simplejwt's checks, the log-in's family, and the log context.

simplejwt verifies the signature with our one algorithm and key (so `alg: none` or another key
is refused), the expiry and `nbf`, that the token is an access token, that the account exists
and is active, and that the password is the one the token was issued under. On top: an access
token of a revoked family (logout, a refresh token reused, a password change) is refused at
once, not when it expires. Every refusal is 401 `token_not_valid`.
"""

from rest_framework import authentication as drf_authentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework_simplejwt import authentication

from accounts.models import TokenFamily
from accounts.services import FAMILY_CLAIM
from agentsite import context


class JWTAuthentication(authentication.JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            context.bind(user_id=result[0].pk)
        return result

    def get_user(self, validated_token):
        try:
            user = super().get_user(validated_token)
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(str(exc.detail), code="token_not_valid") from None
        family = validated_token.get(FAMILY_CLAIM)
        if (
            family is not None
            and not TokenFamily.objects.filter(pk=family, revoked_at__isnull=True).exists()
        ):
            raise AuthenticationFailed("This log-in has ended.", code="token_not_valid")
        return user


class SessionAuthentication(drf_authentication.SessionAuthentication):
    """The session cookie. A write without its CSRF token is 403 `csrf_failed`, the same
    problem as the pages' (agentsite.errors.csrf_failure), not DRF's `permission_denied`."""

    def enforce_csrf(self, request):
        try:
            super().enforce_csrf(request)
        except PermissionDenied:
            raise PermissionDenied(
                "CSRF verification failed; reload and retry.", code="csrf_failed"
            ) from None
