"""Writes of memories: learning from a person's turn, forgetting one memory or all of them.

Every write is scoped by the person's id, taken from the server's side (the message's session
owner, the authenticated user), never from a request parameter.
"""

import json
import logging

from django.conf import settings
from django.db import connection, transaction
from django.http import Http404
from mem0.configs.prompts import get_update_memory_messages
from mem0.exceptions import LLMError as Mem0LLMError
from mem0.memory.utils import extract_json, remove_code_blocks

from agents.llm import LLMUnavailableError
from agents.models import Message
from agentsite import tracing
from memory import engine, metrics, prompts, selectors, statements
from memory.models import Memory

logger = logging.getLogger(__name__)

RELATED_LIMIT = 5  # earlier memories compared with each new one for contradictions


def remember_message(message_id) -> list[str]:
    """Learn from one user message: Mem0 extracts the facts (deduplicated against what is
    known), then earlier memories they change are updated or deleted. Returns the texts of the
    person's memories that came from this message. On a local model, only a message that tells
    about the person is read (memory/statements.py).

    Idempotent per message: a retried task finds the memories it already stored (their
    metadata names the message) and does not add them again, but does reconcile them (that
    step may be what the earlier try did not finish; done already, it finds nothing to
    change); an advisory lock keeps two deliveries of the same task from interleaving. An LLM
    outage raises LLMUnavailableError for the task to retry later.
    """
    message = (
        Message.objects.select_related("session")
        .filter(pk=message_id, role=Message.Role.USER)
        .first()
    )
    if message is None or not message.content.strip():
        return []
    if settings.LLM_LOCAL and not statements.tells_about_oneself(message.content):
        return []  # a small model makes facts out of questions (memory/statements.py)
    user_id = str(message.session.owner_id)
    metadata = {"source_message_id": str(message.pk), "source_session_id": str(message.session_id)}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [str(message.pk)]
            )
        stored = Memory.objects.owned_by(user_id).from_message(message.pk)
        extracted = stored.exists()  # by an earlier try that died or failed after it
        # One trace for both steps' LLM attempts, when Langfuse is on.
        with tracing.traced("memory", user_id=user_id, session_id=message.session_id):
            _learn(user_id, message.content, metadata, extract=not extracted)
        if not extracted:
            metrics.extractions.labels("stored" if stored.exists() else "nothing").inc()
        return [memory.text for memory in stored]


def _learn(user_id: str, text: str, metadata: dict, *, extract: bool) -> None:
    """Extraction (unless an earlier try stored it), then reconciliation, which a retry runs
    again: a try killed or failed between the two would otherwise leave the changed earlier
    memory beside the new one for good. A failure is counted, then left to the task."""
    try:
        if extract:
            _extract(user_id, text, metadata)
        _reconcile(user_id, metadata)
    except Exception:
        metrics.extractions.labels("failed").inc()
        raise


def _extract(user_id: str, text: str, metadata: dict) -> None:
    """Mem0's extraction, from the person's own words only (an assistant's text would make
    facts the person never stated)."""
    try:
        engine.memory().add(
            [{"role": "user", "content": text}], user_id=user_id, metadata=metadata, infer=True
        )
    except Mem0LLMError as exc:
        if isinstance(exc.__cause__, LLMUnavailableError):
            raise exc.__cause__ from None
        raise


def _reconcile(user_id: str, metadata: dict) -> None:
    """Mem0 2.2's extraction only adds; a changed fact ("I moved to Berlin") would sit beside
    the old one. Mem0's own update prompt then decides, over the new memories and the earlier
    ones most like them, which to update or delete; ids are numbered for the model, as Mem0
    does, so it can only name memories of this person that it was shown."""
    new = list(Memory.objects.owned_by(user_id).from_message(metadata["source_message_id"]))
    new_ids = {str(memory.pk) for memory in new}
    related: dict[str, str] = {}
    for memory in new:
        for hit in selectors.search(user_id, memory.text, limit=RELATED_LIMIT):
            if hit["id"] not in new_ids:
                related[hit["id"]] = hit["memory"]
    if not related:
        return
    current = [*related.items(), *((str(memory.pk), memory.text) for memory in new)]
    numbered = {str(number): memory_id for number, (memory_id, _) in enumerate(current)}
    shown = [{"id": str(number), "text": text} for number, (_, text) in enumerate(current)]
    prompt = get_update_memory_messages(
        shown, [memory.text for memory in new], prompts.update_prompt()
    )
    mem0 = engine.memory()
    reply = mem0.llm.generate_response(
        [{"role": "user", "content": prompt}], response_format={"type": "json_object"}
    )
    for decision in _decisions(reply):
        target = numbered.get(str(decision.get("id")))
        event = str(decision.get("event", "")).upper()
        if target is None:
            continue
        if event == "UPDATE" and decision.get("text"):
            # The updated memory now also comes from this message (what a retry looks for).
            mem0.update(target, text=str(decision["text"]), metadata=metadata)
        elif event == "DELETE":
            mem0.delete(target)


def _decisions(reply: str) -> list[dict]:
    text = remove_code_blocks(reply or "")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        try:
            parsed = json.loads(extract_json(text))
        except json.JSONDecodeError:
            logger.warning("the memory update reply is not JSON; nothing changed")
            return []
    items = parsed.get("memory", []) if isinstance(parsed, dict) else []
    return [item for item in items if isinstance(item, dict)]


def delete_memory(user_id, memory_id) -> None:
    """Forget one memory of this person; another person's (or no) memory is a 404."""
    if not Memory.objects.owned_by(user_id).filter(pk=memory_id).exists():
        raise Http404("No such memory.")
    engine.memory().delete(str(memory_id))


def forget_all(user_id) -> int:
    """Forget every memory of this person, and Mem0's entity links for them, in the caller's
    transaction (account deletion deletes the account and its memories together or neither)."""
    with transaction.atomic():
        deleted, _ = Memory.objects.owned_by(user_id).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM memories_entities WHERE payload->>'user_id' = %s", [str(user_id)]
            )
    return deleted
