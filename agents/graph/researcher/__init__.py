"""The documents researcher: answers from the person's own uploaded documents, with citations."""
