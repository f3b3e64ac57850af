from django.urls import path

from agents import apis

app_name = "agents"

urlpatterns = [
    path("agents", apis.AgentListApi.as_view(), name="agents"),
    path("sessions", apis.SessionListApi.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>", apis.SessionDetailApi.as_view(), name="session"),
    path(
        "sessions/<uuid:session_id>/messages",
        apis.SessionMessagesApi.as_view(),
        name="session-messages",
    ),
]
