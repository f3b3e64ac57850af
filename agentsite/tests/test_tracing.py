"""The tracing plumbing against the local fake Langfuse: a block traced as its own trace, the
error it raised on its root, and what a stopping worker process still holds sent."""

import pytest
from celery import signals

from agentsite import tracing


def test_a_traced_block_parents_its_observations_and_marks_its_error(langfuse_keys, fake_langfuse):
    def job():
        with tracing.traced("job", seed="job-1", user_id="u-1"):
            tracing.start_child("step").end()
            raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        job()
    tracing.flush()

    root = fake_langfuse.trace(tracing.trace_id_for("job-1"))
    assert (root.name, root.attributes["user.id"]) == ("job", "u-1")
    assert root.attributes["langfuse.observation.level"] == "ERROR"
    assert root.attributes["langfuse.observation.status_message"] == "LookupError"
    assert [child.name for child in root.children] == ["step"]
    assert tracing.current() is None


def test_a_stopping_worker_process_sends_what_is_queued(langfuse_keys, fake_langfuse):
    with tracing.traced("job", seed="job-2"):
        pass
    signals.worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
    assert [span.name for span in fake_langfuse.spans()] == ["job"]
