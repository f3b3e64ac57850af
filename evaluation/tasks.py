"""Grading on Celery (thin wrappers around evaluation.services).

A run fans out one task per message, published in groups of `FANOUT_CHUNK`. Every task is
acknowledged late and rejected on worker loss, so a killed worker's messages are graded by
another worker; the services make that re-grading count once.
"""

from datetime import timedelta

from celery import group, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from agents.llm import LLMUnavailableError
from agentsite.tasks import MAX_RETRIES, retry_countdown
from evaluation import services

FANOUT_CHUNK = 200


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=120, time_limit=180)
def start_evaluation_run(run_id: str) -> int:
    """Queue one grading task per message of the run; returns how many were queued."""
    try:
        item_ids = services.start_run(run_id)
        for start in range(0, len(item_ids), FANOUT_CHUNK):
            chunk = item_ids[start : start + FANOUT_CHUNK]
            group(grade_run_item.s(item_id) for item_id in chunk).apply_async()
    except Exception as exc:
        services.fail_run(run_id, f"could not start: {exc.__class__.__name__}")
        raise
    return len(item_ids)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,  # four metrics, each up to three judge calls within the ring's budget
    time_limit=660,
    max_retries=MAX_RETRIES,
)
def grade_run_item(self, item_id: int) -> None:
    """Grade one message. The ring down or the task too slow: retry as every model task does
    (agentsite/tasks.py); the last try stores errors instead of scores, so the run always
    finishes."""
    last_chance = self.request.retries >= self.max_retries
    try:
        services.grade_item(item_id, last_chance=last_chance)
    except (LLMUnavailableError, SoftTimeLimitExceeded) as exc:
        if last_chance:
            services.give_up_item(item_id, f"grading did not finish: {exc.__class__.__name__}")
            return
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def grade_recent_answers(since_minutes: int = 60) -> str:
    """The scheduled job (beat, editable in the admin): the recent answers not yet scored (a
    sample of them with a local judge)."""
    return str(services.create_scheduled_run(since=timedelta(minutes=since_minutes)).pk)
