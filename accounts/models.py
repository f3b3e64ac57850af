"""People who use agentsite, and the LLM tokens they spend each day."""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Signs in with an email address, stored lowercased so case never makes a second account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    daily_token_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="LLM tokens this person may use per UTC day; empty means the site default.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-date_joined"]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = self.email.lower()  # one account per address, whatever the case typed
        super().save(*args, **kwargs)


class DailyTokenUsage(models.Model):
    """Tokens (prompt + completion) a person spent on one UTC day, for the daily quota."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_usage")
    day = models.DateField()
    tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="unique_token_usage_per_day"),
        ]
        verbose_name_plural = "daily token usage"

    def __str__(self):
        return f"{self.user} {self.day}: {self.tokens}"


class TokenFamily(models.Model):
    """The refresh tokens of one log-in. Each rotation hands the family on to the new token, so
    at most one of its refresh tokens may still be spent (`current_jti`). Presenting any other
    (an already rotated one: stolen, or replayed) revokes the family, and every access token
    carrying its id stops working too (accounts/authentication.py)."""

    class Revoked(models.TextChoices):
        LOGOUT = "logout"
        REUSE = "reuse", "a rotated refresh token was presented again"
        PASSWORD = "password", "the password was changed or reset"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    current_jti = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, choices=Revoked.choices, blank=True)

    class Meta:
        verbose_name_plural = "token families"

    def __str__(self):
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"
