"""Writes about accounts: sign-up, the staff role, deletion, and refresh-token rotation."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.exceptions import APIException, AuthenticationFailed, ValidationError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User


class EmailTaken(APIException):
    """409: the request was well formed, the address is simply in use."""

    status_code = 409
    default_code = "email_taken"
    default_detail = "An account with this email already exists."


def register_user(*, email: str, password: str, display_name: str = "") -> User:
    """Create an account; the email is compared without case, the password validated."""
    email = User.objects.normalize_email(email).lower()
    candidate = User(email=email, display_name=display_name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken
    try:
        with transaction.atomic():
            return User.objects.create_user(email, password, display_name=display_name)
    except IntegrityError:  # a concurrent sign-up with the same email won the race
        raise EmailTaken from None


def make_staff(email: str) -> User:
    """Give the account staff status and the Staff group (remade if someone deleted it);
    doing it twice changes nothing. Raises User.DoesNotExist for an unknown email."""
    from django.apps import apps

    from accounts.staff import ensure_staff_group

    user = User.objects.get(email__iexact=email.strip())
    with transaction.atomic():
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        user.groups.add(ensure_staff_group(apps))
    return user


def delete_user(user: User) -> None:
    """Delete the account; sessions, messages and usage cascade with it, and its memories
    (Mem0's rows, not linked by a foreign key) go in the same transaction."""
    from memory.services import forget_all

    with transaction.atomic():
        forget_all(user.pk)
        user.delete()


def issue_tokens(user: User) -> RefreshToken:
    return RefreshToken.for_user(user)


def _valid_refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise AuthenticationFailed(str(exc), code="token_not_valid") from None


def rotate_refresh_token(raw: str) -> RefreshToken:
    """Spend a refresh token for a new pair. A used token is dead, even under a race.

    The outstanding token's row is locked, so two concurrent refreshes with one token cannot
    both succeed.
    """
    token = _valid_refresh_token(raw)
    with transaction.atomic():
        outstanding = (
            OutstandingToken.objects.select_for_update()
            .filter(jti=token["jti"])
            .order_by()  # the model orders by user: FOR UPDATE refuses that outer join
            .first()
        )
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise AuthenticationFailed("Token is blacklisted", code="token_not_valid")
        user = User.objects.filter(pk=token["user_id"], is_active=True).first()
        if user is None:
            raise AuthenticationFailed("No active account for this token.", code="token_not_valid")
        BlacklistedToken.objects.create(token=outstanding)
        return issue_tokens(user)


def revoke_refresh_token(raw: str) -> None:
    """Logout: blacklist the refresh token so it can never mint access tokens again."""
    token = _valid_refresh_token(raw)
    token.blacklist()
