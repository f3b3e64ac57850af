"""Account DTOs: what a client may send, and exactly what leaves the server."""

from django.conf import settings
from django.contrib.auth import password_validation
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


def password_min_length() -> int:
    """The configured MinimumLengthValidator's length (AUTH_PASSWORD_VALIDATORS), else 1."""
    lengths = [
        validator.min_length
        for validator in password_validation.get_default_password_validators()
        if isinstance(validator, password_validation.MinimumLengthValidator)
    ]
    return max(lengths, default=1)


def new_password_field() -> serializers.RegexField:
    """A password being chosen. It must also pass Django's validators that no JSON schema can
    say: not a common password, not too like the email or name (400 `invalid` otherwise)."""
    # Passwords are never sanitized or trimmed: what the person typed is what they log in with.
    # Not all digits (NumericPasswordValidator): the pattern asks for one other character;
    # and, like every CharField, no NUL.
    return serializers.RegexField(
        r"^[^\x00]*[^0-9\x00][^\x00]*$",
        write_only=True,
        min_length=password_min_length(),
        max_length=128,
        trim_whitespace=False,
        style={"input_type": "password"},
        error_messages={"invalid": "A password needs a character other than a digit, and no NUL."},
    )


def current_password_field() -> serializers.CharField:
    return serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)


class RegisterSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A sign-up (see new_password_field for what the password must pass)."""

    email = serializers.EmailField(max_length=254)
    password = new_password_field()
    display_name = CleanCharField(max_length=100, multiline=False, required=False, allow_blank=True)


class TokenObtainSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = current_password_field()


class PasswordChangeSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    current_password = current_password_field()
    new_password = new_password_field()


class PasswordResetSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The two parts of the mailed link, `uid` and `token`, and the password to set."""

    uid = serializers.CharField(max_length=64, trim_whitespace=False)
    token = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = new_password_field()


class RefreshSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    refresh = serializers.CharField(max_length=2048, trim_whitespace=False)  # a token, verbatim


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
