"""The stress report's maths: percentiles, turn outcomes, the summary, the timeline."""

import re
import time
from collections import Counter
from dataclasses import replace

import pytest

from devtools.management.commands.stress import seconds
from devtools.stress import records, report, timeline
from devtools.stress.records import TurnRecord
from devtools.stress.report import ModelTiming, RunShape
from devtools.stress.throttle import Throttle, Window
from devtools.testing import wait_for

SHAPE = RunShape(
    users=3,
    run_time_s=10,
    window=Window(3, 6),
    primary_model="sim-primary",
    model_timing=ModelTiming(ttft_ms=300, tokens_per_s=50, reply_tokens=20),
    server_workers=1,
    celery_concurrency=1,
)


def answered(started=0.0, model="sim-primary", ttft_s=0.35, gaps=(20.0, 21.0)):
    return TurnRecord(
        started=started,
        http_status=200,
        ttft_s=ttft_s,
        gaps_ms=list(gaps),
        tokens=len(gaps) + 1,
        done_events=1,
        model=model,
    )


def test_percentiles_interpolate_between_ranks():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert report.percentile(values, 50) == 3.0
    assert report.percentile(values, 95) == pytest.approx(4.8)
    assert report.percentile(values, 0) == 1.0
    assert report.percentile([7.0], 99) == 7.0
    assert report.percentile([], 50) is None
    assert report.spread([10.0, 20.0]) == {"p50": 15.0, "p95": 19.5, "p99": 19.9}


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (answered(), ""),
        (TurnRecord(started=0, http_status=429), "http 429"),
        (TurnRecord(started=0, error_code="ConnectionError"), "connection: ConnectionError"),
        (
            TurnRecord(started=0, http_status=200, error_events=1, error_code="llm_unavailable"),
            "error event: llm_unavailable",
        ),
        (TurnRecord(started=0, http_status=200, done_events=2), "several done events"),
        (TurnRecord(started=0, http_status=200, tokens=3), "stream ended without done"),
        (
            TurnRecord(started=0, http_status=200, done_events=1, error_events=1, error_code="x"),
            "error event: x",
        ),
    ],
)
def test_a_turn_completes_with_exactly_one_done_and_no_error(record, kind):
    assert record.completed is (kind == "")
    assert record.error_kind == kind


def test_records_round_trip_through_the_turns_file(tmp_path):
    path = tmp_path / "turns.jsonl"
    assert records.read(path) == []
    records.append(path, answered(started=1.5))
    records.append(path, TurnRecord(started=2.0, http_status=503))
    assert records.read(path) == [answered(started=1.5), TurnRecord(started=2.0, http_status=503)]


def test_the_summary_counts_turns_models_fallbacks_and_errors():
    turns = [
        answered(ttft_s=0.4),
        answered(ttft_s=0.5),
        replace(answered(model="sim-fallback", ttft_s=0.6), fallback_events=1),
        TurnRecord(started=0, http_status=200, error_events=1, error_code="llm_unavailable"),
        TurnRecord(started=0, http_status=429),
    ]
    failures = Counter({"GET /api/v1/memories: HTTPError 503": 2})
    summary = report.summarize(turns, SHAPE, failures)

    assert (summary["turns"], summary["completed"], summary["completed_ratio"]) == (5, 3, 0.6)
    assert summary["models"] == {"sim-primary": 2, "sim-fallback": 1}
    assert summary["fallback_turns"] == 1
    assert summary["fallback_events"] == 1
    assert summary["ttft_ms"]["p50"] == 500.0
    assert summary["added_ttft_ms"]["p50"] == 200.0  # minus the simulator's 300 ms
    assert summary["token_gap_ms"] == {"p50": 20.5, "p95": 21.0, "p99": 21.0}
    assert summary["turns_per_s"] == 0.3
    assert summary["throttle_window"] == {"start_s": 3, "end_s": 6}
    assert summary["errors"] == {
        "error event: llm_unavailable": 1,
        "http 429": 1,
        "GET /api/v1/memories: HTTPError 503": 2,
    }


def test_the_target_needs_both_completion_and_added_ttft():
    summary = report.summarize(
        [answered(ttft_s=0.4)] * 999 + [TurnRecord(started=0)], SHAPE, Counter()
    )
    assert report.meets_target(summary, min_completed=0.999, max_added_ttft_p95_ms=500)
    assert not report.meets_target(summary, min_completed=0.9995, max_added_ttft_p95_ms=500)
    assert not report.meets_target(summary, min_completed=0.999, max_added_ttft_p95_ms=100)
    empty = report.summarize([], SHAPE, Counter())
    assert empty["completed_ratio"] is None
    assert not report.meets_target(empty, min_completed=0.999, max_added_ttft_p95_ms=500)


def test_windows_and_durations():
    assert Window.middle_third(180) == Window(60, 120)
    with pytest.raises(ValueError, match="start < end"):
        Window(5, 5)
    assert [seconds(text) for text in ("180", "90s", "3m", "1m30s", "1h")] == [
        180,
        90,
        180,
        90,
        3600,
    ]
    with pytest.raises(ValueError, match="not a duration"):
        seconds("three minutes")


def test_turns_fall_into_buckets_by_their_start():
    started = 1000.0
    turns = [
        answered(started=started + 0.2, ttft_s=0.4),
        answered(started=started + 0.9, ttft_s=0.6, model="sim-fallback"),
        TurnRecord(started=started + 2.5, http_status=429),
        answered(started=started + 7.0),  # after the run: left out
    ]
    buckets = timeline.bucket_turns(turns, started, run_time_s=3, width_s=1)
    assert [b.start_s for b in buckets] == [0, 1, 2]
    assert [(b.turns, b.completed) for b in buckets] == [(2, 2), (0, 0), (1, 0)]
    assert buckets[0].models == Counter({"sim-primary": 1, "sim-fallback": 1})
    assert buckets[0].ttfts_ms == [400.0, 600.0]
    assert timeline.bucket_width(180) == 5
    assert timeline.bucket_width(20) == 1


def test_the_timeline_shades_the_window_in_every_panel():
    started = 0.0
    turns = [
        answered(started=t, model="sim-fallback" if 3 <= t < 6 else "sim-primary")
        for t in (0.5, 1.5, 3.5, 4.5, 6.5, 8.5)
    ]
    buckets = timeline.bucket_turns(turns, started, run_time_s=10, width_s=1)
    svg = timeline.render_svg(buckets, 10, 1, Window(3, 6), "a run & its <title>")

    shades = re.findall(r'<rect class="throttle-window" x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    assert len(shades) == 3  # turns/s, TTFT p95, model shares
    plot_width = timeline.WIDTH - timeline.LEFT - 20
    for x, width in shades:
        assert float(x) == pytest.approx(timeline.LEFT + plot_width * 0.3, abs=0.1)
        assert float(width) == pytest.approx(plot_width * 0.3, abs=0.1)
    assert svg.count("<polyline") == 3  # started and completed turns/s, TTFT p95
    assert "a run &amp; its &lt;title&gt;" in svg
    assert "sim-primary" in svg
    assert "sim-fallback" in svg
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")


def test_the_throttle_sets_the_primary_fault_for_its_window_only():
    from devtools.llmservers.simulator import running_simulator

    with running_simulator() as simulator:
        throttle = Throttle(simulator.base_url, "sim-primary", Window(0.2, 0.5), 20.0)
        with throttle:
            throttle.start(time.time())
            assert wait_for(lambda: "sim-primary" in simulator.simulator.faults())
            assert simulator.simulator.faults()["sim-primary"]["retry_after"] == 20.0
            assert wait_for(lambda: not simulator.simulator.faults())
        assert simulator.simulator.faults() == {}
