"""Account endpoints: thin views that parse, call a service, and serialize."""

from django.contrib.auth import update_session_auth_hash
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import lockout, passwords, serializers, services
from agentsite.ratelimit import (
    PasswordResetRateThrottle,
    RegisterRateThrottle,
    TokenRateThrottle,
    UserRateThrottle,
)


class PublicApi(APIView):
    """An endpoint for callers without an access token (signing in, refreshing, logging out).

    It still answers a failed credential with 401 and a Bearer challenge, not DRF's 403.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class RegisterApi(PublicApi):
    throttle_classes = [RegisterRateThrottle]
    schema_problems = {409: "an account with this email already exists"}

    @extend_schema(
        request=serializers.RegisterSerializer, responses={201: serializers.UserSerializer}
    )
    def post(self, request):
        incoming = serializers.RegisterSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        user = services.register_user(**incoming.validated_data)
        return Response(serializers.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(PublicApi):
    throttle_classes = [TokenRateThrottle]
    schema_problems = {
        401: "the email or the password is wrong",
        429: "too many attempts from this address, or failed ones for this account "
        "(Retry-After says when to retry)",
    }

    @extend_schema(
        request=serializers.TokenObtainSerializer, responses={200: serializers.TokenPairSerializer}
    )
    def post(self, request):
        incoming = serializers.TokenObtainSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        user = lockout.authenticate(
            request, incoming.validated_data["email"], incoming.validated_data["password"]
        )
        if user is None:
            raise AuthenticationFailed("Email or password is wrong.", code="invalid_credentials")
        return Response(serializers.TokenPairSerializer.for_token(services.issue_tokens(user)).data)


class RefreshApi(PublicApi):
    throttle_classes = [TokenRateThrottle]
    schema_problems = {401: "the refresh token is invalid, expired or already used"}

    @extend_schema(
        request=serializers.RefreshSerializer, responses={200: serializers.RotatedTokensSerializer}
    )
    def post(self, request):
        incoming = serializers.RefreshSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        rotated = services.rotate_refresh_token(incoming.validated_data["refresh"])
        return Response(serializers.RotatedTokensSerializer.for_token(rotated).data)


class LogoutApi(PublicApi):
    """Blacklists a refresh token. Open to anyone holding it: revoking can only help."""

    throttle_classes = [UserRateThrottle]
    schema_problems = {401: "the refresh token is invalid, expired or already revoked"}

    @extend_schema(request=serializers.RefreshSerializer, responses={204: None})
    def post(self, request):
        incoming = serializers.RefreshSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.revoke_refresh_token(incoming.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses={200: serializers.UserSerializer})
    def get(self, request):
        return Response(serializers.UserSerializer(request.user).data)

    @extend_schema(responses={204: None})
    def delete(self, request):
        services.delete_user(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """Needs the current password; ends every other log-in and session of the person, and
    answers the caller's new log-in (a web session stays signed in, with a new key)."""

    schema_problems = {
        400: "malformed JSON, invalid fields, or a new password the validators refuse",
        403: "the current password is wrong (wrong_password), or cookie authentication "
        "without a valid CSRF token (csrf_failed)",
        429: "rate limited, or too many wrong current passwords (Retry-After says when)",
    }

    @extend_schema(
        request=serializers.PasswordChangeSerializer,
        responses={200: serializers.TokenPairSerializer},
    )
    def post(self, request):
        incoming = serializers.PasswordChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        tokens = passwords.change_password(request, request.user, **incoming.validated_data)
        if isinstance(request.successful_authenticator, SessionAuthentication):
            update_session_auth_hash(request, request.user)
        return Response(serializers.TokenPairSerializer.for_token(tokens).data)


class PasswordResetApi(PublicApi):
    """Always 202, whether or not the address has an account: nothing to enumerate."""

    throttle_classes = [PasswordResetRateThrottle]

    @extend_schema(request=serializers.PasswordResetSerializer, responses={202: None})
    def post(self, request):
        incoming = serializers.PasswordResetSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        link_base = request.build_absolute_uri(reverse("password-reset-page"))
        passwords.request_reset(incoming.validated_data["email"], link_base)
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApi):
    """Sets the password from the mailed link's `uid` and `token`, which then never work
    again; every log-in of the person ends."""

    throttle_classes = [PasswordResetRateThrottle]
    schema_problems = {
        400: "malformed JSON, invalid fields, or a new password the validators refuse",
        403: "the link is invalid, used or expired (invalid_reset_link)",
    }

    @extend_schema(request=serializers.PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        incoming = serializers.PasswordResetConfirmSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        passwords.confirm_reset(**incoming.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
