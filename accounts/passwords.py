"""Changing and resetting a password. Either ends every log-in of the person but the caller's.

The new password passes Django's validators. Then every refresh-token family is revoked and
every outstanding refresh token blacklisted (accounts/services.py), every access token is
refused (each carries a digest of the password it was issued under), and every Django session
ends on its next request (a session holds a hash of the password; the changing web session
itself is kept by the view, with a new key).

A reset is asked for by email and always answered the same, whether or not the address has an
account: the lookup and the mail happen in a Celery task, so even the time taken says nothing.
The link carries Django's PasswordResetTokenGenerator token: it hashes the password and the
last log-in, so it works once, and it expires after PASSWORD_RESET_TIMEOUT.
"""

import hashlib

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.exceptions import APIException, ValidationError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import lockout, services
from accounts.models import TokenFamily, User

RESET_MAIL_INTERVAL = 60  # seconds: at most one reset mail per address per minute


class WrongPassword(APIException):
    """403: the request is well formed (not a 400) and the caller's token is good (not a
    401, which would tell the client to sign in again); the proof simply does not hold."""

    status_code = 403
    default_code = "wrong_password"
    default_detail = "This is not your current password."


class InvalidResetLink(APIException):
    """403, like WrongPassword: a well-formed link that proves nothing (any more)."""

    status_code = 403
    default_code = "invalid_reset_link"
    default_detail = "This reset link is invalid, used or expired; ask for a new one."


def set_password(user: User, new_password: str) -> None:
    """Validate and set the password, then end every token of the person."""
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    services.revoke_all_tokens(user, TokenFamily.Revoked.PASSWORD)


def change_password(request, user: User, current_password: str, new_password: str) -> RefreshToken:
    """The caller proves they know the password; a wrong one counts as a failed log-in (a
    stolen access token cannot guess it freely). Returns the caller's new log-in."""
    lockout.check(request, user.email)
    if not user.check_password(current_password):
        lockout.record_failure(request, user.email)
        raise WrongPassword
    set_password(user, new_password)
    return services.issue_tokens(user)


def request_reset(email: str, link_base: str) -> None:
    """Queue the lookup and the mail: the caller's answer never depends on the address."""
    from accounts.tasks import send_password_reset

    send_password_reset.delay(lockout.normalize(email), link_base)


def send_reset_mail(email: str, link_base: str) -> bool:
    """Mail a reset link to the active account of `email`, if there is one and no link went
    to it in the last minute (a flood of requests is not a flood of mail). True if sent."""
    user = User.objects.filter(email__iexact=lockout.normalize(email), is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    digest = hashlib.sha256(user.email.encode()).hexdigest()[:32]
    if not cache.add(f"password-reset-mail:{digest}", 1, timeout=RESET_MAIL_INTERVAL):
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    send_mail(
        "Reset your agentsite password",
        f"Someone (hopefully you) asked to reset the password of {user.email}.\n\n"
        f"Choose a new one here: {link_base}{uid}/{token}\n\n"
        f"The link works once, for {minutes} minutes. If you did not ask, ignore this mail: "
        "your password stays as it is.\n\n"
        f"Apps: POST /api/v1/auth/password/reset/confirm with uid {uid} and token {token}.\n",
        None,
        [user.email],
    )
    return True


def user_of_link(uid: str, token: str) -> User | None:
    """The active account a reset link is for, if the link is still good."""
    try:
        pk = force_str(urlsafe_base64_decode(uid))
        user = User.objects.filter(pk=pk, is_active=True).first()
    except (ValueError, TypeError, OverflowError, DjangoValidationError):
        return None
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


def confirm_reset(uid: str, token: str, new_password: str) -> None:
    user = user_of_link(uid, token)
    if user is None:
        raise InvalidResetLink
    set_password(user, new_password)
