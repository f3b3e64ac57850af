"""Top-level routes: admin, the versioned API, its schema, operations and metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agentsite import metrics
from agentsite.ops import api as ops_api

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts.urls")),
    path("api/v1/", include("agents.urls")),
    path("api/v1/", include("memory.urls")),
    path("api/v1/evaluations/", include("evaluation.urls")),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("ops/", ops_api.urls),
    path("metrics", metrics.metrics, name="prometheus-metrics"),
]

handler400 = "agentsite.errors.bad_request"
handler403 = "agentsite.errors.permission_denied"
handler404 = "agentsite.errors.page_not_found"
handler500 = "agentsite.errors.server_error"
