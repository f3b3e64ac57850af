"""Settings of the servers in the fault tests about the budget: a chat budget of 3 s that a
silent model outlasts (its silence timeout is longer), so the fault plays out in seconds."""

from agentsite.settings.test import *  # noqa: F403

LLM_POLICY = {**LLM_POLICY, "budget": 3.0, "first_token_timeout": 10.0}  # noqa: F405
