"""Memory endpoints: thin views. The person is always `request.user`; nothing in the request
can name another one (unknown query parameters are refused)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from memory import selectors, services
from memory.serializers import MAX_QUERY_CHARS, MemoryQuerySerializer, MemorySerializer


class MemoryListApi(generics.ListAPIView):
    """GET: the person's memories, most recently changed first, or with `q` the most relevant
    first (paginated). DELETE: forget them all."""

    serializer_class = MemorySerializer

    def get_queryset(self):
        query = MemoryQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        text = query.validated_data.get("q", "").strip()
        if text:
            return selectors.search_memories_of(self.request.user.pk, text)
        return selectors.memories_of(self.request.user.pk)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "maxLength": MAX_QUERY_CHARS},
                description="Semantic search.",
            )
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="memories_forget_all",
        description="Forget every memory of this person.",
        responses={204: None},
    )
    def delete(self, request):
        services.forget_all(request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemoryDetailApi(APIView):
    @extend_schema(description="Forget one memory of this person.", responses={204: None})
    def delete(self, request, memory_id):
        services.delete_memory(request.user.pk, memory_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
