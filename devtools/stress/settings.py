"""Settings of the stress test's server and worker (`make stress`): the test settings (the
embedded test stack, the simulator's model names, the fast password hasher: sign-up cost is
not what the stress test measures) with production's ring policy and rate limits, each still
set from the environment (`LLM_*`, `RATE_LIMIT_*`). `devtools/stress/run.py` sets the few it
changes and says why."""

from agentsite.settings import base
from agentsite.settings.test import *  # noqa: F403

LLM_POLICY = base.LLM_POLICY  # retries, Retry-After cap, breaker, budget as in production
RATE_LIMITS = base.RATE_LIMITS
