"""Writes about accounts: sign-up, the staff role, deletion, and the tokens of each log-in
(issued in families, rotated with reuse detection, revoked)."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException, AuthenticationFailed, ValidationError
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import TokenFamily, User

FAMILY_CLAIM = "fam"  # the TokenFamily (log-in) a refresh or access token belongs to
JTI = api_settings.JTI_CLAIM
REVOKE_CLAIM = api_settings.REVOKE_TOKEN_CLAIM


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


def issue_tokens(user: User, family: TokenFamily | None = None) -> RefreshToken:
    """A refresh token (with its access token) for a new log-in, which starts a family, or
    for the next rotation of `family`."""
    token = RefreshToken.for_user(user)  # recorded as an OutstandingToken
    if family is None:
        family = TokenFamily.objects.create(user=user, current_jti=token[JTI])
    else:
        family.current_jti = token[JTI]
        family.save(update_fields=["current_jti"])
    token[FAMILY_CLAIM] = str(family.pk)  # copied into its access tokens too
    return token


def _token_not_valid(detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(detail, code="token_not_valid")


def _genuine_refresh_token(raw: str) -> RefreshToken:
    """A refresh token we signed that has not expired, spent or not: reuse detection needs
    to know a spent one when it sees it (RefreshToken(raw) alone refuses it unread)."""
    try:
        token_backend.decode(raw, verify=True)  # the signature, exp and nbf
        token = RefreshToken(raw, verify=False)
        Token.verify(token)  # the token type and expiry, without the blacklist check
    except (TokenError, TokenBackendError) as exc:
        raise _token_not_valid(str(exc)) from None
    return token


def _revoke_family(family: TokenFamily, reason: str) -> None:
    family.revoked_at, family.revoked_reason = timezone.now(), reason
    family.save(update_fields=["revoked_at", "revoked_reason"])
    outstanding = OutstandingToken.objects.filter(jti=family.current_jti).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)


def rotate_refresh_token(raw: str) -> RefreshToken:
    """Spend a refresh token for a new pair of the same family. A spent token is dead, and
    presenting one again (a stolen copy, or the thief's own after the owner refreshed)
    revokes its whole family: the current refresh token and every access token of it.

    The outstanding token's row, then the family's, are locked, so two concurrent refreshes
    cannot both succeed and a rotation cannot slip past a revocation.
    """
    token = _genuine_refresh_token(raw)
    with transaction.atomic():
        outstanding = (
            OutstandingToken.objects.select_for_update()
            .filter(jti=token[JTI])
            .order_by()  # the model orders by user: FOR UPDATE refuses that outer join
            .first()
        )
        family = _locked_family(token)
        live = outstanding is not None and not hasattr(outstanding, "blacklistedtoken")
        if FAMILY_CLAIM in token:
            live = live and family is not None and family.current_jti == token[JTI]
        if family is not None and family.revoked_at is not None:
            rotated = None  # the log-in already ended
        elif not live:
            if family is not None:
                _revoke_family(family, TokenFamily.Revoked.REUSE)
            rotated = None
        else:
            rotated = _rotate(token, outstanding, family)
    if rotated is None:  # raised after the commit, so a revocation for reuse is kept
        raise _token_not_valid("Token is blacklisted")
    return rotated


def _locked_family(token: RefreshToken) -> TokenFamily | None:
    if FAMILY_CLAIM not in token:  # minted outside a log-in (a test, a tool): starts one now
        return None
    return TokenFamily.objects.select_for_update().filter(pk=token[FAMILY_CLAIM]).first()


def _rotate(token, outstanding, family) -> RefreshToken | None:
    user = User.objects.filter(pk=token[api_settings.USER_ID_CLAIM], is_active=True).first()
    if user is None or token.get(REVOKE_CLAIM) != get_md5_hash_password(user.password):
        return None  # the account is gone or inactive, or its password changed since
    BlacklistedToken.objects.create(token=outstanding)
    return issue_tokens(user, family)


def revoke_refresh_token(raw: str) -> None:
    """Logout: blacklist the refresh token and end its family, so no access token of this
    log-in works any more either."""
    try:
        token = RefreshToken(raw)
    except TokenError as exc:
        raise _token_not_valid(str(exc)) from None
    with transaction.atomic():
        family = _locked_family(token)
        if family is not None and family.revoked_at is None:
            _revoke_family(family, TokenFamily.Revoked.LOGOUT)
        token.blacklist()


def revoke_all_tokens(user: User, reason: str) -> None:
    """End every log-in of the person: every family, every outstanding refresh token."""
    with transaction.atomic():
        TokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason
        )
        live = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
        )
