"""Which messages a small local model should mine for memories at all.

On the 1.5B local model, Mem0's extraction makes "facts" out of anything: "What is 17*23?"
became "User is 17*23", an answer's arithmetic "The result is 391". A person tells about
themselves in statements in the first person ("I live in Lisbon", "my dog is called Biscuit");
a message with no such statement goes to no model (which also spares the busy local model a
background request). Only with settings.LLM_LOCAL: a hosted model gets every message, and
only English first-person words are known here.
"""

import re

# Subject and possessive forms: "me" and "us" are mostly a request's object ("tell me a joke").
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|mine|myself|we|we're|we've|our|ours)\b", re.I)
# A sentence ends at . ! ? or a line break, and keeps its mark (a question is told by it).
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def tells_about_oneself(text: str) -> bool:
    """True when some sentence of ``text`` is a statement (not a question) in the first
    person."""
    text = text.replace("\u2019", "'")
    return any(
        not sentence.rstrip().endswith("?") and FIRST_PERSON.search(sentence)
        for sentence in SENTENCE.findall(text)
    )
