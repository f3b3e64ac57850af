"""A tiny `make stress`: its own simulator, server, worker and locust, a short throttle window,
and a summary whose figures agree with each other and with the turns file."""

import json

import pytest
from django.conf import settings
from django.db import connections

from agentsite import pg
from devtools.stress import records, run
from devtools.stress.throttle import Window


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_tiny_stress_run_falls_back_in_the_window_and_reports_it(tmp_path):
    plan = run.Plan(
        users=3,
        run_time_s=20,
        window=Window(5, 12),
        report_dir=tmp_path,
        breaker_cooldown_s=1.0,
        server_workers=1,
        celery_concurrency=1,
        think_time_s=(0.3, 1.0),
        stop_timeout_s=10,
    )
    summary = run.run(plan, pg.url(connections["default"].settings_dict), settings.REDIS_URL)

    assert summary == json.loads((tmp_path / "summary.json").read_text())
    assert summary["users"] == 3
    assert summary["run_time_s"] == 20
    assert summary["throttle_window"] == {"start_s": 5, "end_s": 12}
    assert 0 < summary["completed"] <= summary["turns"]
    assert summary["completed_ratio"] == round(summary["completed"] / summary["turns"], 5)
    assert sum(summary["models"].values()) == summary["completed"]
    assert set(summary["models"]) <= {run.PRIMARY, run.FALLBACK}
    assert summary["fallback_turns"] == summary["models"].get(run.FALLBACK, 0) > 0
    assert sum(summary["errors"].values()) >= summary["turns"] - summary["completed"]
    for spread in ("ttft_ms", "added_ttft_ms", "token_gap_ms"):
        assert set(summary[spread]) == {"p50", "p95", "p99"}
    assert summary["added_ttft_ms"]["p50"] == pytest.approx(
        summary["ttft_ms"]["p50"] - 300, abs=0.2
    )

    turns = records.read(tmp_path / "turns.jsonl")
    assert len(turns) == summary["turns"]
    start = summary["started_at"]  # the run's clock, the window's too
    offsets = {turn.model: [] for turn in turns if turn.completed}
    for turn in turns:
        if turn.completed:
            offsets[turn.model].append(turn.started - start)
    # the fallback answered only around the window; the primary before it and after it
    assert min(offsets[run.FALLBACK]) >= 4
    assert max(offsets[run.FALLBACK]) < 14
    assert min(offsets[run.PRIMARY]) < 5
    assert max(offsets[run.PRIMARY]) > 12

    assert (tmp_path / "locust.html").exists()
    assert (tmp_path / "locust_stats.csv").exists()
    assert (tmp_path / "timeline.svg").read_text().count('class="throttle-window"') == 3
