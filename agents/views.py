"""The chat page. It is a shell: the browser loads sessions and streams turns from the API."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from agentsite.pages import strict_csp


@strict_csp
@login_required
@ensure_csrf_cookie
def chat(request):
    return render(request, "agents/chat.html", {"max_message_chars": settings.MAX_MESSAGE_CHARS})
