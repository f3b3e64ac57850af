"""Tells drf-spectacular that our JWT authentication is simplejwt's Bearer scheme, and our
session authentication is the cookie scheme."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.JWTAuthentication"


class CookieScheme(SessionScheme):
    target_class = "accounts.authentication.SessionAuthentication"
