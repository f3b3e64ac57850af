"""ASGI entry point: Channels routes streaming endpoints; everything else is Django.

With SERVE_STATIC_FILES (dev, tests) /static/ is served here too; production's proxy serves it.
The lifespan protocol is answered here (agentsite/lifespan.py), so a stopping process first
sends its queued Langfuse traces.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.dev")

django_asgi_app = get_asgi_application()  # sets Django up before the routes import models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from agents.consumers import ChatStreamConsumer  # noqa: E402
from agentsite.lifespan import Lifespan  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                # No Channels auth middleware: the admission reads the session cookie itself,
                # in the worker thread it already runs in (agents/admission.py).
                path("api/v1/sessions/<uuid:session_id>/stream", ChatStreamConsumer.as_asgi()),
                re_path(r"", django_asgi_app),
            ]
        ),
    }
)
if settings.SERVE_STATIC_FILES:
    application = ASGIStaticFilesHandler(application)
application = Lifespan(application)  # run uvicorn with --lifespan on: traces flush at shutdown

# Everything loaded so far (Django, the apps, LangGraph, LangChain: about 300k objects) lives
# as long as the process: out of the cyclic collector's sight, an old-generation collection
# stops costing ~200 ms of a busy worker's time (and a pause that every open stream feels).
gc.freeze()
