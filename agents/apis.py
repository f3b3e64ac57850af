"""Chat session endpoints: thin views that parse, call a service or selector, and serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import selectors, services
from agents.admission import admit_turn
from agents.graph import registry
from agents.models import Message
from agents.serializers import (
    AgentSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    SessionCreateSerializer,
    SessionSerializer,
    SessionUpdateSerializer,
    TurnResultSerializer,
)
from agents.turns import ChatTurn
from agentsite.loops import background_loop


class AgentListApi(APIView):
    """GET: the agents a session may use, `auto` first (not paginated: a short fixed list)."""

    @extend_schema(responses={200: AgentSerializer(many=True)})
    def get(self, request):
        return Response(AgentSerializer(registry.listing(), many=True).data)


class SessionListApi(generics.ListAPIView):
    """GET: the person's sessions, newest activity first (paginated). POST: a new one."""

    serializer_class = SessionSerializer

    def get_queryset(self):
        return selectors.sessions_of(self.request.user)

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionSerializer})
    def post(self, request):
        incoming = SessionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        session = services.create_session(owner=request.user, **incoming.validated_data)
        created = selectors.session_of(request.user, session.pk)
        return Response(SessionSerializer(created).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(APIView):
    @extend_schema(responses={200: SessionSerializer})
    def get(self, request, session_id):
        return Response(SessionSerializer(selectors.session_of(request.user, session_id)).data)

    @extend_schema(request=SessionUpdateSerializer, responses={200: SessionSerializer})
    def patch(self, request, session_id):
        session = selectors.session_of(request.user, session_id, with_count=False)
        incoming = SessionUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        if incoming.validated_data:  # a PATCH changes what it names, if anything
            services.update_session(session, **incoming.validated_data)
        return Response(SessionSerializer(selectors.session_of(request.user, session_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, session_id):
        services.delete_session(selectors.session_of(request.user, session_id, with_count=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionMessagesApi(generics.ListAPIView):
    """GET: the session's messages, oldest first (paginated). POST: one agent turn."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        session = selectors.session_of(
            self.request.user, self.kwargs["session_id"], with_count=False
        )
        return selectors.messages_of(session)

    @extend_schema(request=MessageCreateSerializer, responses={201: TurnResultSerializer})
    def post(self, request, session_id):
        """The same admission and agent run as the stream, answered in one response."""
        turn = admit_turn(request, session_id)
        background_loop.run(_run_to_end(turn))
        try:
            turn.user_message.refresh_from_db()
            turn.answer.refresh_from_db()
        except Message.DoesNotExist:  # the session was deleted while the agent ran
            raise NotFound from None
        result = {"user_message": turn.user_message, "assistant_message": turn.answer}
        return Response(TurnResultSerializer(result).data, status=status.HTTP_201_CREATED)


async def _run_to_end(turn: ChatTurn) -> None:
    async for _ in turn.events():
        pass
