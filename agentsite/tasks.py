"""What a Celery task that calls a model does when no model can answer: it tries again later.

Title, memory and evaluation tasks share one policy, so an outage of the ring backs off the
same way everywhere: 10 s, doubling to at most 5 minutes, 5 more tries (about 5 minutes in
all), each wait jittered so retries of many tasks don't arrive together.
"""

from celery.utils.time import get_exponential_backoff_interval

from agents.llm import LLMUnavailableError

BACKOFF_SECONDS = 10
BACKOFF_MAX_SECONDS = 300
MAX_RETRIES = 5

# `@shared_task(**RETRY_WHEN_MODELS_DOWN)`: Celery's own autoretry with that policy.
RETRY_WHEN_MODELS_DOWN = {
    "autoretry_for": (LLMUnavailableError,),
    "retry_backoff": BACKOFF_SECONDS,
    "retry_backoff_max": BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}


def retry_countdown(retries: int) -> int:
    """The wait before try `retries + 1`, for tasks that retry by hand (as autoretry would)."""
    return get_exponential_backoff_interval(
        BACKOFF_SECONDS, retries, BACKOFF_MAX_SECONDS, full_jitter=True
    )
