"""The supervisor of `auto` sessions: hands each message to one specialist, never answers."""
