"""/metrics for Prometheus: open in development, guarded in production (what it holds:
agentsite/prometheus.py).

With METRICS_TOKEN set, a scraper must send it as a bearer token. Without it, only addresses in
METRICS_ALLOWED_NETWORKS may scrape (in prod these default to loopback and private ranges).
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from agentsite.errors import problem_response
from agentsite.prometheus import web_exposition


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _from_allowed_network(request) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def may_scrape(request) -> bool:
    if settings.METRICS_TOKEN:
        return hmac.compare_digest(_bearer(request), settings.METRICS_TOKEN)
    return settings.METRICS_ALLOWED_NETWORKS is None or _from_allowed_network(request)


def metrics(request):
    if not may_scrape(request):
        return problem_response(403, "permission_denied", "Metrics need the METRICS_TOKEN.")
    return HttpResponse(web_exposition(), content_type=CONTENT_TYPE_LATEST)
