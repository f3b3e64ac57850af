"""Compact stand-ins for Mem0's prompts, used when the ring is a small local model
(settings.LLM_LOCAL).

Mem0 2.2.1's extraction system prompt is about 34,000 characters (some 8,000 tokens) and its
update prompt 5,000: on the local model their prompt evaluation alone outlasts the ring's
budget. These say the same job in a few lines and ask for the same JSON, so Mem0's parsing (and
ours) reads the answers unchanged: extraction `{"memory": [{"id": "0", "text": "..."}]}`,
update `{"memory": [{"id": "0", "text": "...", "event": "UPDATE"}]}`.
"""

from django.conf import settings
from mem0.configs.prompts import ADDITIVE_EXTRACTION_PROMPT

EXTRACTION_PROMPT = """You pick out facts about the user for a memory store.
Write each thing the user tells about themselves in New Messages (name, likes, plans, home, \
family, work, health) as its own short sentence about "User", one fact per sentence. Skip \
questions, greetings, requests and anything already in Existing Memories.
Example: "I'm Sam and I play the cello" gives
{"memory": [{"id": "0", "text": "User's name is Sam"}, {"id": "1", "text": "User plays the cello"}]}
Reply with JSON only; nothing to remember: {"memory": []}"""

UPDATE_PROMPT = """You keep a user's memory consistent. The memory below holds earlier \
entries and the new facts' own entries. When a new fact changes or contradicts an earlier \
entry (a new city, a new job, a changed liking): UPDATE the earlier entry with the new text, \
and DELETE the new fact's own entry. Every other entry: NONE. Never ADD."""


def system_prompt(mem0_prompt: str) -> str:
    """The system prompt to send for one of Mem0's: its extraction prompt is replaced on a
    local model; anything else goes as it is."""
    if settings.LLM_LOCAL and mem0_prompt == ADDITIVE_EXTRACTION_PROMPT:
        return EXTRACTION_PROMPT
    return mem0_prompt


def update_prompt() -> str | None:
    """The instructions of the update call: ours on a local model, else Mem0's own (None)."""
    return UPDATE_PROMPT if settings.LLM_LOCAL else None
