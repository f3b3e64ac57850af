"""The Celery app. Tasks carry the request, user and session ids of the request that queued them."""

import os

from celery import Celery, signals

from agentsite import celery_metrics, context, prometheus, tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.dev")

app = Celery("agentsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.worker_hijack_root_logger = False  # keep Django's JSON logging
app.autodiscover_tasks()

CONTEXT_HEADER = "agentsite_context"


@signals.before_task_publish.connect
def _attach_context(headers=None, **_):
    """Copy the publishing request's ids into the message headers."""
    if headers is not None:
        headers[CONTEXT_HEADER] = context.current()


@signals.task_prerun.connect
def _restore_context(task=None, **_):
    """Bind the ids the task was queued with, so its log lines carry them."""
    ids = getattr(task.request, CONTEXT_HEADER, None) or {}
    context.bind(**{name: ids.get(name) for name in context.FIELDS})


@signals.task_postrun.connect
def _clear_context(**_):
    context.bind(**dict.fromkeys(context.FIELDS))


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _flush_traces(**_):
    """Send the Langfuse spans and scores still queued: a pool process ends without running
    atexit handlers, where the SDK would flush them itself."""
    tracing.flush()


signals.task_prerun.connect(celery_metrics.start_clock)
signals.task_postrun.connect(celery_metrics.count_run)


@signals.worker_ready.connect
def _serve_metrics(**_):
    """The worker's metrics port, in the main process (the pool's children write into the
    multiprocess directory it reads); WORKER_METRICS_PORT 0 turns it off."""
    from django.conf import settings

    celery_metrics.initialize(app)
    if settings.WORKER_METRICS_PORT:
        prometheus.serve_worker_metrics(
            settings.WORKER_METRICS_ADDRESS, settings.WORKER_METRICS_PORT
        )


@signals.worker_process_shutdown.connect
def _forget_pool_process(pid=None, **_):
    prometheus.forget_process(pid)
