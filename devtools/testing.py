"""Helpers shared by the apps' tests."""

import time


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False): for effects
    another process or thread brings about, such as a live server saving a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def bearer(user) -> dict:
    """The Authorization header of a fresh access token for ``user``."""
    from rest_framework_simplejwt.tokens import RefreshToken

    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def stream_turn(
    server, user, session, content="hello there", headers=None, **kwargs
) -> list[tuple[str, dict]]:
    """POST a turn to a live server's stream and collect every event until it ends."""
    import httpx

    from agents.sse import decode

    with httpx.stream(
        "POST",
        f"{server.url}/api/v1/sessions/{session.pk}/stream",
        json={"content": content},
        headers={**bearer(user), **(headers or {})},
        timeout=30,
        **kwargs,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(decode(response.iter_lines()))


def api_turn(auth_client, user, content: str, *, agent: str = "general"):
    """One turn through ``POST .../messages`` in a new session of ``user`` with ``agent`` (the
    general assistant unless told: `auto` adds the supervisor's routing call); its answer."""
    from agents.models import ChatSession, Message

    session = ChatSession.objects.create(owner=user, agent=agent)
    response = auth_client.post(
        f"/api/v1/sessions/{session.pk}/messages", {"content": content}, format="json"
    )
    assert response.status_code == 201
    return Message.objects.get(pk=response.json()["assistant_message"]["id"])
