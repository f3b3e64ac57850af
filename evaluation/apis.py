"""Evaluation endpoints, staff only: start a grading run, list runs, one run's summary."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation import selectors, services
from evaluation.models import EvaluationRun
from evaluation.serializers import RunCreateSerializer, RunSerializer


class RunListApi(generics.ListAPIView):
    """GET: runs, newest first (paginated). POST: queue a run (202)."""

    permission_classes = [IsAdminUser]
    serializer_class = RunSerializer

    def get_queryset(self):
        return selectors.runs()

    @extend_schema(request=RunCreateSerializer, responses={202: RunSerializer})
    def post(self, request):
        incoming = RunCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        run = services.create_and_queue_run(
            trigger=EvaluationRun.Trigger.API,
            since=data["since"],
            limit=data.get("limit"),
            metrics=data.get("metrics"),
            requested_by=request.user,
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: RunSerializer})
    def get(self, request, run_id):
        return Response(RunSerializer(get_object_or_404(selectors.runs(), pk=run_id)).data)
