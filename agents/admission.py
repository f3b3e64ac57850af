"""One admission path for a chat turn, streamed or not.

DRF's own request pipeline decides who may start a turn: authentication (a JWT bearer, or the
browser's session cookie with its CSRF token, both from REST_FRAMEWORK's defaults), the
per-person throttle, the media type and the JSON parsing. The message DTO checks and sanitizes
the content, and `open_turn` refuses another person's session (404) or a spent quota (429)
before the question is saved. Every refusal is an exception that `agentsite.errors` turns into
problem+json. `POST .../messages` is a DRF view and calls `admit_turn`; the stream is a
Channels consumer, so it passes its request through `StreamAdmission` first.
"""

from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from agents.serializers import MessageCreateSerializer
from agents.turns import ChatTurn, open_turn
from agentsite import context


def admit_turn(request: Request, session_id) -> ChatTurn:
    """The parsed, sanitized message of an admitted request, saved as a turn. Blocking."""
    context.bind(user_id=request.user.pk)
    incoming = MessageCreateSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    return open_turn(request.user, session_id, incoming.validated_data["content"])


class StreamAdmission(APIView):
    """DRF's pipeline for the stream, which no DRF view serves: `admit` runs it in the caller's
    worker thread and returns the opened turn, or the problem response to send instead."""

    http_method_names = ["post"]

    def perform_content_negotiation(self, request, force=False):
        """No negotiation: the answer is an event stream (`Accept: text/event-stream`), or a
        refusal in problem+json, never something DRF renders."""
        return JSONRenderer(), JSONRenderer.media_type

    @classmethod
    def admit(cls, django_request: HttpRequest, session_id) -> ChatTurn | HttpResponse:
        _with_session_user(django_request)
        view = cls()
        view.args, view.kwargs = (), {"session_id": session_id}
        view.headers = view.default_response_headers
        request = view.request = view.initialize_request(django_request)
        try:
            if request.method.lower() not in view.http_method_names:
                raise exceptions.MethodNotAllowed(request.method)
            view.initial(request)
            return admit_turn(request, session_id)
        except Exception as exc:
            return view.finalize_response(request, view.handle_exception(exc))


def _with_session_user(request: HttpRequest) -> None:
    """The browser's session and its user, as Django's middleware would attach them (DRF's
    SessionAuthentication reads `request.user`), read only if a JWT did not already decide:
    here, in the admission's own worker thread, not in one more hop of Channels' middleware."""
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    request.user = SimpleLazyObject(lambda: auth.get_user(request))
