"""A session's title, written by a model from its first exchange."""

from django.conf import settings
from langchain_core.messages import HumanMessage, SystemMessage

from agents.llm import ModelRing

TITLE_PROMPT = (
    "Write a title of at most six words for the conversation below. Reply with the title only, "
    "no quotes, no final period."
)
# A small local model reads every prompt token at a few dozen a second: it sees less of the
# exchange, which the start of each message names well enough.
MAX_CHARS_PER_MESSAGE = 1000
MAX_CHARS_PER_MESSAGE_LOCAL = 300
MAX_TITLE_TOKENS = 24  # six words and some slack; a rambling model is cut off
MAX_TITLE_CHARS = 80


def write_title(exchange: list[tuple[str, str]]) -> str:
    """A short title for (role, text) pairs; "" when the model writes nothing usable."""
    limit = MAX_CHARS_PER_MESSAGE_LOCAL if settings.LLM_LOCAL else MAX_CHARS_PER_MESSAGE
    transcript = "\n".join(f"{role}: {text[:limit]}" for role, text in exchange)
    answer = ModelRing(purpose="title").invoke(
        [SystemMessage(TITLE_PROMPT), HumanMessage(transcript)], max_tokens=MAX_TITLE_TOKENS
    )
    return _clean(str(answer.content))


def _clean(text: str) -> str:
    """The title alone: its first line, without quotes, markup or a final period."""
    lines = text.strip().splitlines()
    line = lines[0].strip("\"'*#` ").rstrip(".") if lines else ""
    return " ".join(line.split())[:MAX_TITLE_CHARS]
