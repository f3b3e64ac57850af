"""Settings of the workers in the killed-worker test: a dead worker's unacknowledged tasks
come back after 5 s instead of CELERY_VISIBILITY_TIMEOUT, swept every second. Only those
workers use it: elsewhere a 5 s timeout would redeliver any task that runs longer."""

from agentsite.settings.test import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
