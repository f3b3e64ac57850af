from django.urls import path

from evaluation import apis

app_name = "evaluation"

urlpatterns = [
    path("runs", apis.RunListApi.as_view(), name="runs"),
    path("runs/<uuid:run_id>", apis.RunDetailApi.as_view(), name="run"),
]
