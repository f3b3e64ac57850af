"""Request-wide concerns: request ids, the user in log context, body limits, store outages."""

import logging
import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

from agentsite import context
from agentsite.errors import is_store_outage, problem_response

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MULTIPART_ENVELOPE_BYTES = 64 * 1024


def body_limit(request) -> int:
    """The largest body this request may send: MAX_REQUEST_BYTES, or an upload's own limit."""
    upload_limit = settings.LARGE_BODY_PATHS.get(request.path)
    if upload_limit and request.method == "POST":
        return getattr(settings, upload_limit) + MULTIPART_ENVELOPE_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def incoming_request_id(request) -> str:
    """The client's X-Request-ID when it is sane, else a fresh one (raw input never hits logs)."""
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    return supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex


class _DualMiddleware:
    """Base for middleware that runs natively under both WSGI and ASGI (no thread hop)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        early = self.before(request)
        response = early if early is not None else self.get_response(request)
        return self.after(request, response)

    async def _acall(self, request):
        early = self.before(request)
        response = early if early is not None else await self.get_response(request)
        return self.after(request, response)

    def before(self, request):
        return None

    def after(self, request, response):
        return response


class RequestContextMiddleware(_DualMiddleware):
    """Gives each request an id (echoed in X-Request-ID) and refuses oversize bodies early."""

    def before(self, request):
        request.request_id = incoming_request_id(request)
        context.bind(request_id=request.request_id, user_id=None, session_id=None)
        declared = request.headers.get("Content-Length", "")
        limit = body_limit(request)
        if declared.isdigit() and int(declared) > limit:
            return problem_response(
                413, "payload_too_large", f"The request body is larger than {limit} bytes."
            )
        return None

    def after(self, request, response):
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class UserContextMiddleware(MiddlewareMixin):
    """Puts a session-authenticated user's id into the log context (JWT users: accounts.auth).

    Only a request with a session cookie is looked up, so API calls pay no extra query.
    """

    def process_request(self, request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            context.bind(user_id=request.user.pk)


class ServiceUnavailableMiddleware(MiddlewareMixin):
    """A database or Redis outage outside DRF views becomes a 503 problem, not a 500 page."""

    def process_exception(self, request, exception):
        if is_store_outage(exception):
            logger.error("store unavailable", exc_info=exception)
            return problem_response(503, "service_unavailable", "A backing service is down.")
        return None
