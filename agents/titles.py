"""A session's title, written by a model from its first exchange."""

from langchain_core.messages import HumanMessage, SystemMessage

from agents.llm import ModelRing

TITLE_PROMPT = (
    "Write a title of at most six words for the conversation below. Reply with the title only, "
    "no quotes, no final period."
)
MAX_CHARS_PER_MESSAGE = 1000
MAX_TITLE_CHARS = 80


def write_title(exchange: list[tuple[str, str]]) -> str:
    """A short title for (role, text) pairs; "" when the model writes nothing usable."""
    transcript = "\n".join(f"{role}: {text[:MAX_CHARS_PER_MESSAGE]}" for role, text in exchange)
    answer = ModelRing(purpose="title").invoke(
        [SystemMessage(TITLE_PROMPT), HumanMessage(transcript)]
    )
    return " ".join(str(answer.content).strip().strip("\"'").split())[:MAX_TITLE_CHARS]
