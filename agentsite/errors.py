"""RFC 9457 problem details for every error the API returns, with the request id.

One place turns exceptions into `application/problem+json`: DRF's exception handler for API views,
and Django's handler400/403/404/500 plus the CSRF failure view for everything else under /api/ and
/ops/. Exception text never reaches a client outside DEBUG.
"""

import logging
import math

import psycopg
import redis
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import set_rollback

from agentsite import context

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:agentsite:problem:"
API_PREFIXES = ("/api/", "/ops/")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem_response(
    status_code: int,
    code: str,
    detail: str,
    *,
    errors: dict | None = None,
    headers: dict | None = None,
) -> JsonResponse:
    """The one shape of every API error: {type, title, status, detail, code, request_id}."""
    body = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
        "request_id": context.get("request_id"),
    }
    if errors is not None:
        body["errors"] = errors
    response = JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_store_outage(exc: BaseException) -> bool:
    """True for a lost database or Redis, which deserve 503 (retry later), not 500."""
    return isinstance(
        exc,
        OperationalError
        | InterfaceError
        | psycopg.OperationalError
        | redis.ConnectionError
        | redis.TimeoutError,
    )


def _field_errors(detail) -> dict:
    """DRF's nested error detail as {field: [messages]}; non-field errors under "non_field"."""
    if isinstance(detail, dict):
        return {
            ("non_field" if key == "non_field_errors" else key): _messages(value)
            for key, value in detail.items()
        }
    return {"non_field": _messages(detail)}


def _messages(value) -> list:
    if isinstance(value, list):
        return [m for item in value for m in _messages(item)] if value else []
    if isinstance(value, dict):
        return [f"{key}: {m}" for key, item in value.items() for m in _messages(item)]
    return [str(value)]


def api_exception_handler(exc, ctx):
    """DRF's EXCEPTION_HANDLER: every exception from an API view becomes a problem."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return problem_response(413, "payload_too_large", "The request body is too large.")

    if is_store_outage(exc):
        set_rollback()
        logger.error("store unavailable during API call", exc_info=exc)
        return problem_response(503, "service_unavailable", "A backing service is down; retry.")

    if not isinstance(exc, exceptions.APIException):
        return None  # Django's handler500 answers, after logging the traceback

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    if isinstance(exc, exceptions.Throttled):
        return problem_response(429, "rate_limited", str(exc.detail), headers=headers)
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(
            400, "invalid", "The request has invalid fields.", errors=_field_errors(exc.detail)
        )
    if isinstance(exc, exceptions.ParseError):
        return problem_response(400, "malformed_request", str(exc.detail))

    detail = exc.detail if isinstance(exc.detail, str) else exc.default_detail
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    return problem_response(exc.status_code, code, str(detail), headers=headers)


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES) or "json" in request.headers.get("Accept", "")


def bad_request(request, exception=None, template_name="400.html"):
    if _is_api(request):
        return problem_response(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None, template_name="403.html"):
    if _is_api(request):
        return problem_response(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None, template_name="404.html"):
    if _is_api(request):
        return problem_response(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request, template_name="500.html"):
    if _is_api(request):
        return problem_response(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on our side.",
        )
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a missing or bad CSRF token with a session cookie."""
    return problem_response(403, "csrf_failed", "CSRF verification failed; reload and retry.")
