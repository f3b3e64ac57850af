"""`make stress`: people chatting while the primary model is throttled, and what they saw.

`run.py` starts the LLM simulator, the server (uvicorn, one worker per core) and a Celery
worker, all its own, then locust's people (`people.py`, through `locustfile.py`) for
`RUN_TIME`; `throttle.py` makes the simulator answer the primary model with 429 and a
`Retry-After` during the window (by default the middle third of the run); the ring falls back,
and after the window the primary's breaker lets a probe through (half-open) and closes.
`report.py` and `timeline.py` write `stress-report/`.

summary.json
------------
- `users`, `run_time_s`: the people and how long they ran (their first 10 s are the arrival).
- `turns`: chat streams the people opened; `completed`: those answered with HTTP 200 and ended
  by exactly one `done` event and no `error` event; `completed_ratio` = completed / turns.
- `ttft_ms`: time to first token of completed turns, from sending the request to the first
  `token` event, as the person's client saw it; `added_ttft_ms`: the same minus the
  simulator's own configured time to first token (`simulated_model.ttft_ms`, equal for both
  models), i.e. what agentsite adds (auth, quota, saving messages, the checkpoint, the
  agent, the ring's failed attempts and fallback, SSE). `token_gap_ms`: gaps between
  consecutive `token` events. Each `{p50, p95, p99}`, linear interpolation between ranks.
- `turns_per_s`: completed turns / `run_time_s`.
- `models`: completed turns per model of their `done` event; `fallback_turns`: those answered
  by a model other than `primary_model`; `fallback_events`: `fallback` events in completed
  turns (a switch the person was told of; none when an open breaker skips the primary).
- `errors`: count per kind: turns that did not complete (`records.TurnRecord.error_kind`)
  and locust's failures of the other requests.
- `throttle_window`: `{start_s, end_s}`, seconds since the run started (`started_at`, the
  epoch second locust was launched; the turns file's times are epoch seconds too).
- `think_time_s`: the `[min, max]` seconds a person waits between actions.
- `cpu_s`: CPU seconds of each process group during the run; `machine.busy_pct`: the whole
  machine's CPU use meanwhile (other people's work included).

Also `locust.html`, `locust_*.csv` (locust's own), `turns.jsonl` (one record per turn) and
`timeline.svg`: completed turns/s, TTFT p95 and each model's share over time, window shaded.
"""
