from django.urls import path

from documents import apis

app_name = "documents"

urlpatterns = [
    path("documents", apis.DocumentListApi.as_view(), name="documents"),
    path("documents/<uuid:document_id>", apis.DocumentDetailApi.as_view(), name="document"),
]
