from django.urls import path

from memory import apis

app_name = "memory"

urlpatterns = [
    path("memories", apis.MemoryListApi.as_view(), name="memories"),
    path("memories/<uuid:memory_id>", apis.MemoryDetailApi.as_view(), name="memory"),
]
