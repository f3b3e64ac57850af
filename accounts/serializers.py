"""Account DTOs: what a client may send, and exactly what leaves the server."""

from django.conf import settings
from rest_framework import serializers

from accounts.models import User
from agentsite.sanitize import CleanCharField
from agentsite.serializers import RejectUnknownFieldsMixin


class UserSerializer(serializers.ModelSerializer):
    """The user DTO: `{id, email, display_name, date_joined}`. Nothing more, ever."""

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "date_joined"]
        read_only_fields = fields


class RegisterSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    # Passwords are never sanitized or trimmed: what the person typed is what they log in with.
    password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )
    display_name = CleanCharField(max_length=100, multiline=False, required=False, allow_blank=True)


class TokenObtainSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)


class RefreshSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class TokenPairSerializer(serializers.Serializer):
    """Output of /auth/token: the pair plus how to use it."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")

    @classmethod
    def for_token(cls, refresh):
        return cls(
            {
                "access": str(refresh.access_token),
                "refresh": str(refresh),
                "token_type": "Bearer",
                "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
            }
        )


class RotatedTokensSerializer(serializers.Serializer):
    """Output of /auth/token/refresh: a new access token and the refresh token that replaces
    the one just spent."""

    access = serializers.CharField()
    refresh = serializers.CharField()

    @classmethod
    def for_token(cls, refresh):
        return cls({"access": str(refresh.access_token), "refresh": str(refresh)})
