"""Top-level routes: the pages, admin, the versioned API, its schema, operations, metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views
from agents import views as agent_views
from agentsite import metrics
from agentsite.dashboard import dashboard
from agentsite.ops import api as ops_api
from agentsite.pages import strict_csp

urlpatterns = [
    path("", strict_csp(TemplateView.as_view(template_name="home.html")), name="home"),
    path("signup", account_views.signup, name="signup"),
    path("login", account_views.log_in, name="login"),
    path("logout", account_views.log_out, name="logout"),
    path("password/reset/", account_views.password_reset, name="password-reset-page"),
    path(
        "password/reset/done",
        account_views.password_reset_complete,
        name="password-reset-complete",
    ),
    path(
        "password/reset/<uidb64>/<token>",
        account_views.password_reset_confirm,
        name="password-reset-confirm-page",
    ),
    path("chat", agent_views.chat, name="chat"),
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts.urls")),
    path("api/v1/", include("agents.urls")),
    path("api/v1/", include("memory.urls")),
    path("api/v1/", include("documents.urls")),
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
